#include "server/store/search_text.hpp"

#include <algorithm>
#include <utility>

namespace fleetdesk::server::store::search {
namespace {

constexpr std::size_t kMaxQueryBytes = 256;
constexpr std::size_t kMaxTerms = 16;

// The code point at `text[i]` and its length in bytes; a malformed byte is U+FFFD of length 1.
std::pair<char32_t, std::size_t> Decode(std::string_view text, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(text[i]);
  if (b0 < 0x80) return {b0, 1};
  std::size_t length = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 0;
  if (length == 0 || i + length > text.size()) return {0xFFFD, 1};
  char32_t c = b0 & (0x7F >> length);
  for (std::size_t k = 1; k < length; ++k) {
    const auto b = static_cast<unsigned char>(text[i + k]);
    if ((b & 0xC0) != 0x80) return {0xFFFD, 1};
    c = (c << 6) | (b & 0x3F);
  }
  return {c, length};
}

bool AsciiAlnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::vector<std::string> Words(const std::string& indexed) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < indexed.size()) {
    auto end = indexed.find(' ', start);
    if (end == std::string::npos) end = indexed.size();
    if (end > start) out.push_back(indexed.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool EndsInCjk(const std::string& word) {
  std::size_t i = word.size();
  while (i > 0 && (static_cast<unsigned char>(word[i - 1]) & 0xC0) == 0x80) --i;
  if (i == 0) return false;
  return IsCjk(Decode(word, i - 1).first);
}

// Adds the term a chunk of the query means, if it has any words.
void AddTerm(std::string_view chunk, bool phrase, bool prefix, Query& out) {
  Term term;
  term.words = Words(IndexText(chunk));
  if (term.words.empty()) return;
  // A one-letter prefix matches half the dictionary, and CJK words are single characters.
  term.prefix = prefix && !phrase && term.words.back().size() >= 2 && !EndsInCjk(term.words.back());
  out.terms.push_back(std::move(term));
}

void EscapeHtml(std::string_view text, std::string& out) {
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\n':
      case '\r':
      case '\t':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
}

// Spaces and punctuation beyond ASCII, which the databases' tokenizers split words at too: Latin-1
// punctuation, general punctuation (dashes, curly quotes, the no-break space's kin), CJK
// punctuation (、。「」) and the full-width forms' punctuation.
bool IsSeparator(char32_t c) {
  return (c >= 0x00A0 && c <= 0x00BF) || c == 0x00D7 || c == 0x00F7 ||
         (c >= 0x2000 && c <= 0x206F) || (c >= 0x3000 && c <= 0x303F) ||
         (c >= 0xFF00 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) ||
         (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65);
}

}  // namespace

bool IsCjk(char32_t c) {
  return (c >= 0x3040 && c <= 0x30FF) ||  // hiragana, katakana
         (c >= 0x3400 && c <= 0x4DBF) ||  // CJK extension A
         (c >= 0x4E00 && c <= 0x9FFF) ||  // CJK unified ideographs
         (c >= 0xAC00 && c <= 0xD7AF) ||  // hangul syllables
         (c >= 0xF900 && c <= 0xFAFF) ||  // CJK compatibility ideographs
         (c >= 0x20000 && c <= 0x2FA1F);  // CJK extensions B-F and supplements
}

std::string IndexText(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 2);
  auto space = [&out] {
    if (!out.empty() && out.back() != ' ') out += ' ';
  };
  for (std::size_t i = 0; i < text.size();) {
    auto [c, length] = Decode(text, i);
    if (c < 0x80) {
      if (AsciiAlnum(static_cast<unsigned char>(c))) {
        out += Lower(static_cast<char>(c));
      } else {
        space();
      }
    } else if (IsCjk(c)) {
      space();
      out.append(text.substr(i, length));
      out += ' ';
    } else if ((c == 0xFFFD && length == 1) || IsSeparator(c)) {
      space();  // not UTF-8, or a space or punctuation mark outside ASCII: no word
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

Result<Query> ParseQuery(std::string_view text) {
  if (text.size() > kMaxQueryBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "q is at most 256 bytes");
  }
  Query out;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == ' ' || c == '\t') {
      ++i;
    } else if (c == '"') {
      auto close = text.find('"', i + 1);
      if (close == std::string_view::npos) close = text.size();
      AddTerm(text.substr(i + 1, close - i - 1), true, false, out);
      i = close + 1;
    } else {
      auto end = text.find_first_of(" \t\"", i);
      if (end == std::string_view::npos) end = text.size();
      auto chunk = text.substr(i, end - i);
      const bool starred = chunk.back() == '*';
      // Search as you type: the last word, still being typed, is a prefix.
      const bool last = end == text.size();
      AddTerm(chunk, false, starred || last, out);
      i = end;
    }
    if (out.terms.size() > kMaxTerms) {
      return MakeError(ErrorCode::kInvalidArgument, "q has at most 16 words or phrases");
    }
  }
  if (out.terms.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "q has nothing to search for: give a word, a prefix or a \"phrase\"");
  }
  return out;
}

std::string Fts5Match(const Query& query) {
  std::string out;
  for (const auto& term : query.terms) {
    if (!out.empty()) out += " AND ";
    out += '"';
    for (std::size_t w = 0; w < term.words.size(); ++w) {
      if (w > 0) out += ' ';
      out += term.words[w];  // letters and digits only: nothing to escape
    }
    out += '"';
    if (term.prefix) out += '*';
  }
  return out;
}

std::string PgTsQuery(const Query& query) {
  std::string out;
  for (const auto& term : query.terms) {
    if (!out.empty()) out += " & ";
    if (term.words.size() > 1) out += '(';
    for (std::size_t w = 0; w < term.words.size(); ++w) {
      if (w > 0) out += " <-> ";
      out += '\'' + term.words[w] + '\'';
      if (term.prefix && w + 1 == term.words.size()) out += ":*";
    }
    if (term.words.size() > 1) out += ')';
  }
  return out;
}

namespace {

// How often each term occurs in `text`'s words: a word, a prefix, or a phrase in a row.
std::vector<int> Counts(const Query& query, std::string_view text, std::size_t* length) {
  const auto words = Words(IndexText(text));
  *length = words.size();
  std::vector<int> counts(query.terms.size(), 0);
  for (std::size_t t = 0; t < query.terms.size(); ++t) {
    const auto& term = query.terms[t];
    const auto n = term.words.size();
    for (std::size_t i = 0; i + n <= words.size(); ++i) {
      bool all = true;
      for (std::size_t w = 0; w < n && all; ++w) {
        const auto& want = term.words[w];
        const auto& have = words[i + w];
        all = term.prefix && w + 1 == n ? have.rfind(want, 0) == 0 : have == want;
      }
      counts[t] += all ? 1 : 0;
    }
  }
  return counts;
}

}  // namespace

bool Matches(const Query& query, std::string_view text) {
  std::size_t length = 0;
  for (int count : Counts(query, text, &length)) {
    if (count == 0) return false;
  }
  return true;
}

double Score(const Query& query, std::string_view text) {
  constexpr double kK1 = 1.2;
  constexpr double kB = 0.75;
  constexpr double kTypicalWords = 24;
  std::size_t length = 0;
  const auto counts = Counts(query, text, &length);
  double score = 0;
  for (int count : counts) {
    if (count == 0) return 0;
    const double tf = count;
    score +=
        tf * (kK1 + 1) / (tf + kK1 * (1 - kB + kB * static_cast<double>(length) / kTypicalWords));
  }
  return score;
}

std::string Snippet(std::string_view text, const Query& query, std::size_t width) {
  // Where the query's words are: ASCII words at a word's start (and, unless a prefix, its
  // end), case-insensitively; anything else wherever it occurs.
  std::string folded(text);
  for (auto& c : folded) c = Lower(c);
  std::vector<std::pair<std::size_t, std::size_t>> marks;
  for (const auto& term : query.terms) {
    for (std::size_t w = 0; w < term.words.size(); ++w) {
      const auto& word = term.words[w];
      const bool ascii = AsciiAlnum(static_cast<unsigned char>(word[0]));
      const bool prefix = term.prefix && w + 1 == term.words.size();
      for (auto at = folded.find(word); at != std::string::npos; at = folded.find(word, at + 1)) {
        auto end = at + word.size();
        if (ascii) {
          if (at > 0 && AsciiAlnum(static_cast<unsigned char>(folded[at - 1]))) continue;
          if (prefix) {
            while (end < folded.size() && AsciiAlnum(static_cast<unsigned char>(folded[end]))) {
              ++end;
            }
          } else if (end < folded.size() && AsciiAlnum(static_cast<unsigned char>(folded[end]))) {
            continue;
          }
        }
        marks.emplace_back(at, end);
      }
    }
  }
  std::sort(marks.begin(), marks.end());
  std::vector<std::pair<std::size_t, std::size_t>> merged;
  for (const auto& m : marks) {
    if (!merged.empty() && m.first <= merged.back().second) {
      merged.back().second = std::max(merged.back().second, m.second);
    } else {
      merged.push_back(m);
    }
  }
  auto boundary = [&](std::size_t i) {
    while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
    return i;
  };
  std::size_t start = merged.empty() ? 0 : merged.front().first;
  start = start > width / 3 ? boundary(start - width / 3) : 0;
  std::size_t end = std::min(text.size(), start + width);
  if (end < text.size()) {
    while (end > start && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  }
  std::string out;
  if (start > 0) out += "…";
  std::size_t at = start;
  for (const auto& [from, to] : merged) {
    if (to <= start || from >= end) continue;
    const auto a = std::max(from, start);
    const auto b = std::min(to, end);
    EscapeHtml(text.substr(at, a - at), out);
    out += "<mark>";
    EscapeHtml(text.substr(a, b - a), out);
    out += "</mark>";
    at = b;
  }
  EscapeHtml(text.substr(at, end - at), out);
  if (end < text.size()) out += "…";
  return out;
}

}  // namespace fleetdesk::server::store::search
