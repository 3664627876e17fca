// Full-text search of tickets, notes and worklogs, the parts both databases share: what text is
// indexed as, what a query means, and the highlighted snippet of a hit. Standard headers only.
//
// Text is indexed as words: letters and digits of any script, split at spaces and ASCII
// punctuation ("nginx.service" is the words nginx and service), with each CJK character a word of
// its own, so Chinese (written without spaces) is found by any run of its characters, as a
// phrase. SQLite's FTS5 (unicode61) and PostgreSQL's 'simple' text search both index what
// IndexText answers; PostgreSQL computes the same in SQL (fd_search_vector, migration 9).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace fleetdesk::server::store::search {

// Whether a code point is written without spaces between words: CJK ideographs, kana, hangul.
bool IsCjk(char32_t c);

// `text` as the index sees it: lower-case ASCII, ASCII punctuation as spaces, CJK characters
// spaced apart.
std::string IndexText(std::string_view text);

// One thing a query asks for: a word (a prefix when `prefix`), or a phrase of words in a row.
struct Term {
  std::vector<std::string> words;  // one word, or a phrase
  bool prefix = false;             // the last word is a prefix
};

// What a query means: every term must match. A quoted part is a phrase; a word that ends in '*',
// and the query's last word when the query does not end in a space, is a prefix (search as you
// type); a run of CJK characters is a phrase of its characters; "nginx.service" is a phrase.
struct Query {
  std::vector<Term> terms;
};

// Errors: kInvalidArgument for a query with nothing to search for, or too long (256 bytes or 16
// terms).
Result<Query> ParseQuery(std::string_view text);

// The query in FTS5's syntax: "word" "prefix"* "a b c", ANDed.
std::string Fts5Match(const Query& query);
// The query for PostgreSQL's to_tsquery('simple', ...): 'word' & 'prefix':* & ('a' <-> 'b').
std::string PgTsQuery(const Query& query);

// Whether `text` has every term of the query, as the full-text indexes would find it (accents
// aside: SQLite's index folds them, this does not).
bool Matches(const Query& query, std::string_view text);

// How well `text` answers the query: BM25's term-frequency part (k1 1.2, b 0.75, against a
// typical entry of 24 words) summed over the terms; 0 when a term is missing. Without BM25's
// rarity weight, which would need every match of each term counted: every term must match
// anyway, and counting all matches of a common word is what a search cannot afford.
double Score(const Query& query, std::string_view text);

// Up to about `width` bytes of `text` around its first match of the query, HTML-escaped, with
// every match in <mark></mark>; the start of the text when nothing matches (a word was only in
// the title). "…" marks a cut.
std::string Snippet(std::string_view text, const Query& query, std::size_t width = 160);

}  // namespace fleetdesk::server::store::search
