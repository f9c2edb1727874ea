#include "client/cluster_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <mutex>

#include "cluster/grpc_status.h"
#include "cluster/task_runner.h"
#include "cluster/tls_files.h"
#include "common/status_macros.h"
#include "duck/arrow_wire.h"
#include "fmt/format.h"
#include "shardlake.grpc.pb.h"

namespace shardlake {
namespace {

// A status from the server, with the address for transport failures.
absl::Status CallStatus(const grpc::Status& status, const std::string& address) {
  absl::Status converted = FromGrpcStatus(status);
  if (converted.code() == absl::StatusCode::kUnavailable) {
    return absl::UnavailableError(
        fmt::format("the server at {} is unreachable: {}", address, status.error_message()));
  }
  return converted;
}

class GrpcClusterClient final : public ClusterClient {
 public:
  GrpcClusterClient(std::string address, std::unique_ptr<v1::ClientService::Stub> stub,
                    std::string token, std::unique_ptr<duck::Database> database,
                    std::unique_ptr<duck::Connection> connection)
      : address_(std::move(address)),
        stub_(std::move(stub)),
        token_(std::move(token)),
        database_(std::move(database)),
        connection_(std::move(connection)) {}

  absl::StatusOr<ClientQueryOutcome> Execute(const std::string& sql, ResultSink& sink) override {
    grpc::ClientContext context;
    {
      std::lock_guard lock(mutex_);
      running_ = &context;
    }
    v1::ExecuteRequest request;
    request.set_session_token(token_);
    request.set_sql(sql);
    auto reader = stub_->Execute(&context, request);
    bool drained = false;
    absl::StatusOr<ClientQueryOutcome> outcome = ReadReplies(*reader, sink, &drained);
    // Stopped reading early (the sink failed, a bad batch): end the call.
    if (!drained) context.TryCancel();
    grpc::Status finished = reader->Finish();
    {
      std::lock_guard lock(mutex_);
      running_ = nullptr;
    }
    if (!outcome.ok() && !drained) return outcome.status();
    if (!finished.ok()) return CallStatus(finished, address_);
    return outcome;
  }

  absl::Status SetOption(const std::string& name, const std::string& value) override {
    grpc::ClientContext context;
    v1::SetOptionRequest request;
    request.set_session_token(token_);
    request.set_name(name);
    request.set_value(value);
    v1::SetOptionReply reply;
    grpc::Status status = stub_->SetOption(&context, request, &reply);
    return status.ok() ? absl::OkStatus() : CallStatus(status, address_);
  }

  void Cancel() override {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::CancelRequest request;
    request.set_session_token(token_);
    v1::CancelReply reply;
    grpc::Status status = stub_->Cancel(&context, request, &reply);
    if (!status.ok()) {
      // The server is unreachable: at least stop waiting for the result.
      std::lock_guard lock(mutex_);
      if (running_ != nullptr) running_->TryCancel();
    }
  }

  absl::StatusOr<ClusterStatus> Status() override {
    grpc::ClientContext context;
    v1::StatusRequest request;
    request.set_session_token(token_);
    v1::StatusReply reply;
    grpc::Status status = stub_->Status(&context, request, &reply);
    if (!status.ok()) return CallStatus(status, address_);
    ClusterStatus result;
    result.workers = reply.workers();
    result.worker_names.assign(reply.worker_names().begin(), reply.worker_names().end());
    result.queries_running = reply.queries_running();
    result.server_version = reply.server_version();
    return result;
  }

 private:
  // Reads the whole stream; *drained tells whether it was read to its end.
  absl::StatusOr<ClientQueryOutcome> ReadReplies(grpc::ClientReader<v1::ExecuteReply>& reader,
                                                 ResultSink& sink, bool* drained) {
    ClientQueryOutcome outcome;
    bool began = false;
    bool ended = false;
    size_t column_count = 0;
    v1::ExecuteReply reply;
    while (reader.Read(&reply)) {
      outcome.largest_reply_bytes =
          std::max(outcome.largest_reply_bytes, static_cast<int64_t>(reply.ByteSizeLong()));
      if (reply.has_header()) {
        std::vector<std::string> names;
        for (const auto& column : reply.header().columns()) {
          names.push_back(column.name());
          outcome.column_types.push_back(column.type());
        }
        column_count = names.size();
        RETURN_IF_ERROR(sink.Begin(names));
        began = true;
      } else if (reply.part_case() == v1::ExecuteReply::kBatch) {
        if (!began) return absl::InternalError("the server sent rows before their columns");
        ASSIGN_OR_RETURN(duck::ArrowBatch batch, duck::DecodeArrowBatch(reply.batch()));
        ASSIGN_OR_RETURN(auto chunk, connection_->FromArrow(batch));
        if (chunk->ColumnCount() != column_count) {
          return absl::InternalError(fmt::format("the server sent a batch of {} columns for {}",
                                                 chunk->ColumnCount(), column_count));
        }
        CollectingSink::RowList rows(chunk->RowCount());
        for (size_t row = 0; row < chunk->RowCount(); ++row) {
          rows[row].resize(column_count);
          for (size_t col = 0; col < column_count; ++col) {
            if (chunk->IsNull(col, row)) continue;
            ASSIGN_OR_RETURN(rows[row][col], chunk->GetString(col, row));
          }
        }
        RETURN_IF_ERROR(sink.Rows(rows));
      } else if (reply.has_trailer()) {
        const auto& trailer = reply.trailer();
        outcome.statement_kind = trailer.statement_kind();
        outcome.rows = trailer.rows();
        outcome.server_seconds = trailer.seconds();
        outcome.distributed = trailer.distributed();
        outcome.fallback_reason = trailer.fallback_reason();
        outcome.workers_used = trailer.workers_used();
        outcome.bytes_from_workers = trailer.bytes_from_workers();
        outcome.tasks_retried = trailer.tasks_retried();
        outcome.peak_buffered_bytes = trailer.peak_buffered_bytes();
        outcome.largest_worker_batch_bytes = trailer.largest_worker_batch_bytes();
        if (began) RETURN_IF_ERROR(sink.End());
        ended = true;
      }
    }
    *drained = true;
    if (!ended) return absl::UnavailableError("the result stream ended early");
    return outcome;
  }

  std::string address_;
  std::unique_ptr<v1::ClientService::Stub> stub_;
  std::string token_;
  std::unique_ptr<duck::Database> database_;  // decodes batches
  std::unique_ptr<duck::Connection> connection_;
  std::mutex mutex_;
  grpc::ClientContext* running_ = nullptr;  // guarded by mutex_
};

}  // namespace

absl::StatusOr<std::unique_ptr<ClusterClient>> ClusterClient::Connect(
    const ClientOptions& options) {
  ASSIGN_OR_RETURN(std::string roots, LoadTrustedCaPem(options.tls_roots_path));
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = roots;
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(kMaxMessageBytes);
  auto channel = grpc::CreateCustomChannel(options.address, grpc::SslCredentials(ssl), arguments);
  auto deadline =
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(options.connect_timeout_seconds * 1000));
  if (!channel->WaitForConnected(deadline)) {
    return absl::UnavailableError(fmt::format(
        "cannot connect to the server at {} over TLS within {} s: check the address, that the "
        "server runs, and that --tls-roots is the cluster's ca.crt",
        options.address, options.connect_timeout_seconds));
  }
  auto stub = v1::ClientService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(deadline + std::chrono::seconds(30));
  v1::LoginRequest request;
  request.set_username(options.username);
  request.set_password(options.password);
  v1::LoginReply reply;
  grpc::Status status = stub->Login(&context, request, &reply);
  if (!status.ok()) return CallStatus(status, options.address);
  ASSIGN_OR_RETURN(auto database, duck::Database::Open(""));
  ASSIGN_OR_RETURN(auto connection, duck::Connection::Open(*database));
  return std::unique_ptr<ClusterClient>(
      new GrpcClusterClient(options.address, std::move(stub), reply.session_token(),
                            std::move(database), std::move(connection)));
}

}  // namespace shardlake
