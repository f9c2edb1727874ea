// QueryInbox: the events of one distributed query's task attempts (columns,
// result batches, done, failed, lost), pushed by the worker streams' reader
// threads (and the server's own task runner) and popped by the query's
// statement thread.
//
// Flow control: the result batches queued hold at most `max_batch_bytes`
// (ServerOptions::query_buffer_bytes, 64 MiB by default), plus one batch: a
// batch that would pass the bound waits until the statement thread pops
// enough, and an empty inbox takes any batch, so one batch larger than the
// bound still passes. While a worker's reader thread waits here it reads
// nothing more from that worker's stream, so gRPC's flow control holds the
// worker back instead of the server buffering without limit. Other events
// (columns, done, failed, lost) never wait: they are small, and a lost-attempt
// report comes from threads that must not block.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "shardlake.pb.h"

namespace shardlake {

enum class EventKind { kColumns, kBatch, kDone, kFailed, kLost };

// What a worker (or the server's own runner) reports about one task attempt.
struct TaskEvent {
  EventKind kind = EventKind::kLost;
  int64_t attempt_id = 0;
  std::vector<v1::Column> columns;
  std::string batch;
  std::string message;
  bool sql_error = false;
};

class QueryInbox {
 public:
  // How often a waiting Push asks its `keep_waiting`.
  static constexpr std::chrono::milliseconds kWaitPoll{50};

  explicit QueryInbox(int64_t max_batch_bytes) : max_batch_bytes_(max_batch_bytes) {}
  QueryInbox(const QueryInbox&) = delete;
  QueryInbox& operator=(const QueryInbox&) = delete;

  // Queues `event`. A batch that does not fit waits (see above); every
  // kWaitPoll of waiting it calls `keep_waiting` (without the inbox's lock),
  // and when that returns false the event is dropped and Push returns false
  // (the query gave up on the attempt, or the worker is gone). True once
  // queued. An empty `keep_waiting` waits for as long as it takes.
  bool Push(TaskEvent event, const std::function<bool()>& keep_waiting = {}) {
    const auto bytes = static_cast<int64_t>(event.batch.size());
    std::unique_lock lock(mutex_);
    if (event.kind == EventKind::kBatch) {
      auto fits = [&] { return queued_bytes_ == 0 || queued_bytes_ + bytes <= max_batch_bytes_; };
      if (!fits()) ++waited_pushes_;
      while (!fits()) {
        if (space_.wait_for(lock, kWaitPoll, fits)) break;
        if (keep_waiting) {
          lock.unlock();
          bool keep = keep_waiting();
          lock.lock();
          if (!keep) return false;
        }
      }
      queued_bytes_ += bytes;
      peak_bytes_ = std::max(peak_bytes_, queued_bytes_);
      largest_batch_bytes_ = std::max(largest_batch_bytes_, bytes);
    }
    events_.push_back(std::move(event));
    lock.unlock();
    ready_.notify_one();
    return true;
  }

  // Wakes a waiting Pop (e.g. to let its caller see a cancellation).
  void Wake() { ready_.notify_all(); }

  // The next event, or nullopt after `timeout`.
  std::optional<TaskEvent> Pop(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, timeout, [&] { return !events_.empty(); });
    if (events_.empty()) return std::nullopt;
    TaskEvent event = std::move(events_.front());
    events_.pop_front();
    if (event.kind == EventKind::kBatch) {
      queued_bytes_ -= static_cast<int64_t>(event.batch.size());
      lock.unlock();
      space_.notify_all();
    }
    return event;
  }

  // The most batch bytes queued at once so far.
  int64_t peak_bytes() const {
    std::lock_guard lock(mutex_);
    return peak_bytes_;
  }
  // The largest batch queued so far.
  int64_t largest_batch_bytes() const {
    std::lock_guard lock(mutex_);
    return largest_batch_bytes_;
  }
  // Pushes that had to wait for room.
  int64_t waited_pushes() const {
    std::lock_guard lock(mutex_);
    return waited_pushes_;
  }

 private:
  const int64_t max_batch_bytes_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;  // an event arrived
  std::condition_variable space_;  // a batch left
  std::deque<TaskEvent> events_;
  int64_t queued_bytes_ = 0;  // batch bytes in events_
  int64_t peak_bytes_ = 0;
  int64_t largest_batch_bytes_ = 0;
  int64_t waited_pushes_ = 0;
};

}  // namespace shardlake
