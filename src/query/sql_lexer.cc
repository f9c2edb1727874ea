#include "query/sql_lexer.h"

#include <cctype>
#include <cstdint>

#include "common/sql_text.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

bool IsWordStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool IsWordChar(char c) {
  return IsWordStart(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$';
}

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Returns the offset just past a quoted run starting at `pos` (which holds the
// opening quote), or npos if it never ends. Doubled quotes are escapes.
size_t SkipQuoted(std::string_view sql, size_t pos, char quote) {
  for (size_t i = pos + 1; i < sql.size(); ++i) {
    if (sql[i] != quote) continue;
    if (i + 1 < sql.size() && sql[i + 1] == quote) {
      ++i;
      continue;
    }
    return i + 1;
  }
  return std::string_view::npos;
}

// If `pos` starts a dollar-quote tag ($$ or $tag$), returns the tag; else "".
std::string_view DollarTag(std::string_view sql, size_t pos) {
  if (sql[pos] != '$') return {};
  size_t i = pos + 1;
  while (i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_')) {
    ++i;
  }
  if (i < sql.size() && sql[i] == '$') return sql.substr(pos, i - pos + 1);
  return {};
}

struct Cursor {
  std::string_view sql;
  size_t pos = 0;

  // Skips whitespace and comments. Errors on an unterminated block comment.
  absl::Status SkipTrivia() {
    while (pos < sql.size()) {
      char c = sql[pos];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++pos;
      } else if (c == '-' && pos + 1 < sql.size() && sql[pos + 1] == '-') {
        size_t nl = sql.find('\n', pos);
        pos = nl == std::string_view::npos ? sql.size() : nl + 1;
      } else if (c == '/' && pos + 1 < sql.size() && sql[pos + 1] == '*') {
        size_t close = sql.find("*/", pos + 2);
        if (close == std::string_view::npos) {
          return absl::InvalidArgumentError(
              fmt::format("unterminated /* comment starting at offset {}", pos));
        }
        pos = close + 2;
      } else {
        break;
      }
    }
    return absl::OkStatus();
  }
};

absl::Status Unterminated(char quote, size_t pos) {
  return absl::InvalidArgumentError(
      fmt::format("unterminated {} quote starting at offset {}", quote, pos));
}

}  // namespace

absl::StatusOr<std::vector<std::string>> SplitSqlStatements(std::string_view sql) {
  std::vector<std::string> statements;
  size_t start = 0;
  size_t i = 0;
  auto flush = [&](size_t end) {
    std::string_view piece = sql.substr(start, end - start);
    Cursor probe{piece, 0};
    if (probe.SkipTrivia().ok() && probe.pos < piece.size()) statements.emplace_back(piece);
  };
  while (i < sql.size()) {
    char c = sql[i];
    if (c == '\'' || c == '"') {
      size_t next = SkipQuoted(sql, i, c);
      if (next == std::string_view::npos) return Unterminated(c, i);
      i = next;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      size_t nl = sql.find('\n', i);
      i = nl == std::string_view::npos ? sql.size() : nl + 1;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      size_t close = sql.find("*/", i + 2);
      if (close == std::string_view::npos) {
        return absl::InvalidArgumentError(
            fmt::format("unterminated /* comment starting at offset {}", i));
      }
      i = close + 2;
    } else if (std::string_view tag = DollarTag(sql, i); !tag.empty()) {
      size_t close = sql.find(tag, i + tag.size());
      if (close == std::string_view::npos) return Unterminated('$', i);
      i = close + tag.size();
    } else if (c == ';') {
      flush(i);
      start = ++i;
    } else {
      ++i;
    }
  }
  flush(sql.size());
  return statements;
}

absl::StatusOr<std::vector<SqlToken>> TokenizeSql(std::string_view sql, size_t max_tokens) {
  std::vector<SqlToken> tokens;
  Cursor cur{sql, 0};
  while (tokens.size() < max_tokens) {
    if (absl::Status s = cur.SkipTrivia(); !s.ok()) return s;
    if (cur.pos >= sql.size()) break;
    size_t begin = cur.pos;
    char c = sql[begin];
    SqlToken token;
    token.begin = begin;
    if (IsWordStart(c)) {
      size_t end = begin;
      while (end < sql.size() && IsWordChar(sql[end])) ++end;
      token.kind = SqlToken::Kind::kWord;
      token.raw = std::string(sql.substr(begin, end - begin));
      token.text = Upper(token.raw);
      token.end = end;
    } else if (c == '"' || c == '\'') {
      size_t end = SkipQuoted(sql, begin, c);
      if (end == std::string_view::npos) return Unterminated(c, begin);
      token.kind = c == '"' ? SqlToken::Kind::kQuotedIdentifier : SqlToken::Kind::kString;
      token.raw = std::string(sql.substr(begin, end - begin));
      for (size_t i = begin + 1; i + 1 < end; ++i) {
        token.text.push_back(sql[i]);
        if (sql[i] == c) ++i;  // doubled quote
      }
      token.end = end;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t end = begin;
      while (end < sql.size() &&
             (std::isalnum(static_cast<unsigned char>(sql[end])) || sql[end] == '.')) {
        ++end;
      }
      token.kind = SqlToken::Kind::kNumber;
      token.raw = token.text = std::string(sql.substr(begin, end - begin));
      token.end = end;
    } else {
      token.kind = SqlToken::Kind::kSymbol;
      token.raw = token.text = std::string(1, c);
      token.end = begin + 1;
    }
    cur.pos = token.end;
    tokens.push_back(std::move(token));
  }
  return tokens;
}

namespace {

// Enough tokens for INSERT INTO t (<thousands of columns>) BY NAME.
constexpr size_t kMaxInsertHeadTokens = 20'000;

bool IsIdentifier(const SqlToken& token) {
  return token.kind == SqlToken::Kind::kWord || token.kind == SqlToken::Kind::kQuotedIdentifier;
}

std::string IdentifierText(const SqlToken& token) {
  // Unquoted identifiers are case-insensitive in DuckDB; we keep them lower-case
  // as DuckDB's catalog displays them. Quoted ones keep their case.
  if (token.kind == SqlToken::Kind::kQuotedIdentifier) return token.text;
  std::string lower = token.raw;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

class HeadParser {
 public:
  explicit HeadParser(std::vector<SqlToken> tokens) : tokens_(std::move(tokens)) {}

  bool AtWord(std::string_view word) const {
    return pos_ < tokens_.size() && tokens_[pos_].kind == SqlToken::Kind::kWord &&
           tokens_[pos_].text == word;
  }
  bool AcceptWord(std::string_view word) {
    if (!AtWord(word)) return false;
    ++pos_;
    return true;
  }
  absl::Status ExpectWord(std::string_view word, std::string_view after) {
    if (AcceptWord(word)) return absl::OkStatus();
    return absl::InvalidArgumentError(fmt::format("expected {} after {}", word, after));
  }

  // name | db.name; a three-part name is rejected.
  absl::Status ReadTableName(std::string_view after, StatementHead* head) {
    if (pos_ >= tokens_.size() || !IsIdentifier(tokens_[pos_])) {
      return absl::InvalidArgumentError(fmt::format("expected a table name after {}", after));
    }
    head->target_begin = tokens_[pos_].begin;
    std::vector<std::string> parts{IdentifierText(tokens_[pos_])};
    head->target_end = tokens_[pos_].end;
    ++pos_;
    while (pos_ + 1 < tokens_.size() && tokens_[pos_].text == "." &&
           IsIdentifier(tokens_[pos_ + 1])) {
      parts.push_back(IdentifierText(tokens_[pos_ + 1]));
      head->target_end = tokens_[pos_ + 1].end;
      pos_ += 2;
    }
    if (parts.size() > 2) {
      return absl::InvalidArgumentError(
          "table names have at most two parts: database.table (catalog names are not supported)");
    }
    head->target.table = parts.back();
    if (parts.size() == 2) head->target.database = parts[0];
    return absl::OkStatus();
  }

  size_t pos() const { return pos_; }
  const std::vector<SqlToken>& tokens() const { return tokens_; }

 private:
  std::vector<SqlToken> tokens_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<StatementHead> ParseStatementHead(std::string_view statement) {
  auto tokens = TokenizeSql(statement, 16);
  if (!tokens.ok()) return tokens.status();
  StatementHead head;
  if (tokens->empty()) return absl::InvalidArgumentError("empty statement");
  const SqlToken& first = tokens->front();
  head.keyword = first.kind == SqlToken::Kind::kWord ? first.text : first.raw;
  HeadParser p(*tokens);

  if (first.kind == SqlToken::Kind::kSymbol && first.text == "(") {
    head.kind = StatementKind::kQuery;
    return head;
  }
  const std::string& kw = head.keyword;
  if (kw == "SELECT" || kw == "WITH" || kw == "FROM" || kw == "VALUES" || kw == "TABLE" ||
      kw == "PIVOT" || kw == "UNPIVOT") {
    head.kind = StatementKind::kQuery;
    return head;
  }
  if (kw == "EXPLAIN") {
    head.kind = StatementKind::kExplain;
    size_t next = 1;
    if (tokens->size() > 1 && (*tokens)[1].text == "ANALYZE") next = 2;
    if (tokens->size() <= next) return absl::InvalidArgumentError("EXPLAIN needs a query");
    head.explained_begin = (*tokens)[next].begin;
    return head;
  }
  if (kw == "DESCRIBE" || kw == "SHOW" || kw == "SUMMARIZE" || kw == "DESC") {
    head.kind = StatementKind::kDescribe;
    return head;
  }
  if (kw == "SET" || kw == "RESET" || kw == "PRAGMA") {
    head.kind = StatementKind::kSession;
    return head;
  }
  if (kw == "CREATE") {
    p.AcceptWord("CREATE");
    if (p.AcceptWord("OR")) {
      if (absl::Status s = p.ExpectWord("REPLACE", "CREATE OR"); !s.ok()) return s;
      head.or_replace = true;
    }
    if (p.AtWord("TEMP") || p.AtWord("TEMPORARY")) {
      return absl::InvalidArgumentError(
          "CREATE TEMP TABLE is not supported: lake tables are persistent; use a CTE or a "
          "subquery for temporary results");
    }
    if (!p.AcceptWord("TABLE")) {
      return absl::InvalidArgumentError(
          fmt::format("CREATE {} is not supported; shardlake supports CREATE TABLE",
                      p.pos() < tokens->size() ? (*tokens)[p.pos()].raw : std::string()));
    }
    if (p.AcceptWord("IF")) {
      if (absl::Status s = p.ExpectWord("NOT", "IF"); !s.ok()) return s;
      if (absl::Status s = p.ExpectWord("EXISTS", "IF NOT"); !s.ok()) return s;
      head.if_not_exists = true;
    }
    if (absl::Status s = p.ReadTableName("CREATE TABLE", &head); !s.ok()) return s;
    head.create_as_select = p.AtWord("AS");
    head.kind = StatementKind::kCreateTable;
    return head;
  }
  if (kw == "INSERT") {
    p.AcceptWord("INSERT");
    if (p.AcceptWord("OR")) {
      return absl::InvalidArgumentError(
          "INSERT OR REPLACE / OR IGNORE need primary keys, which lake tables do not have");
    }
    if (absl::Status s = p.ExpectWord("INTO", "INSERT"); !s.ok()) return s;
    if (absl::Status s = p.ReadTableName("INSERT INTO", &head); !s.ok()) return s;
    head.kind = StatementKind::kInsert;
    // The source follows an optional column list and BY NAME / BY POSITION.
    // Only the head is tokenized: a VALUES list may hold millions of tokens.
    auto all = TokenizeSql(statement, kMaxInsertHeadTokens);
    if (!all.ok()) return all.status();
    size_t i = p.pos();
    if (i < all->size() && (*all)[i].text == "AS" && (*all)[i].kind == SqlToken::Kind::kWord) {
      i += 2;
    }
    if (i < all->size() && (*all)[i].text == "(") {
      int depth = 0;
      for (; i < all->size(); ++i) {
        if ((*all)[i].text == "(") ++depth;
        if ((*all)[i].text == ")" && --depth == 0) {
          ++i;
          break;
        }
      }
    }
    if (i + 1 < all->size() && (*all)[i].text == "BY" &&
        ((*all)[i + 1].text == "NAME" || (*all)[i + 1].text == "POSITION")) {
      i += 2;
    }
    if (i >= all->size()) {
      return absl::InvalidArgumentError("INSERT needs VALUES, a SELECT or DEFAULT VALUES");
    }
    head.source_begin = (*all)[i].begin;
    return head;
  }
  if (kw == "DROP") {
    p.AcceptWord("DROP");
    if (!p.AcceptWord("TABLE")) {
      return absl::InvalidArgumentError("only DROP TABLE is supported");
    }
    if (p.AcceptWord("IF")) {
      if (absl::Status s = p.ExpectWord("EXISTS", "IF"); !s.ok()) return s;
      head.if_exists = true;
    }
    if (absl::Status s = p.ReadTableName("DROP TABLE", &head); !s.ok()) return s;
    head.kind = StatementKind::kDropTable;
    return head;
  }
  if (kw == "COPY") {
    auto all = TokenizeSql(statement, SIZE_MAX);
    if (!all.ok()) return all.status();
    size_t i = 1;
    if (i < all->size() && (*all)[i].text == "(") {
      int depth = 0;
      size_t open = i;
      for (; i < all->size(); ++i) {
        if ((*all)[i].text == "(") ++depth;
        if ((*all)[i].text == ")" && --depth == 0) break;
      }
      if (i >= all->size()) return absl::InvalidArgumentError("COPY: unbalanced parentheses");
      size_t begin = (*all)[open].end;
      head.copy_query = std::string(statement.substr(begin, (*all)[i].begin - begin));
      ++i;
    } else {
      p.AcceptWord("COPY");
      if (absl::Status s = p.ReadTableName("COPY", &head); !s.ok()) return s;
      i = p.pos();
      std::string name =
          head.target.database.empty()
              ? QuoteIdentifier(head.target.table)
              : QuoteIdentifier(head.target.database) + "." + QuoteIdentifier(head.target.table);
      head.copy_query = "SELECT * FROM " + name;
    }
    if (i >= all->size() || (*all)[i].text != "TO") {
      return absl::InvalidArgumentError(
          "only COPY ... TO is supported (it exports a query); use `shardlake load` to import");
    }
    head.kind = StatementKind::kCopyTo;
    return head;
  }
  head.kind = StatementKind::kUnsupported;
  return head;
}

}  // namespace shardlake
