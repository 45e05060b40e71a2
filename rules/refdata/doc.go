// Package refdata holds the data rules look up besides the event: named lists (allow,
// block and watch lists of values of a field: cards, merchants, IPs, devices,
// countries…) and reference tables (a key → a row of typed columns: merchant → risk
// tier, BIN → issuing country).
//
// A Dataset is immutable once built: its keys sit in an Index, a compact open-addressing
// hash set over one byte arena (O(1) lookup, about 30 bytes a key for short keys against
// about 70 for a Go map[string]struct{}; BenchmarkLookup and TestIndexMemory measure it).
// A Catalog is an immutable set of datasets by name; a Holder publishes the current
// Catalog through an atomic pointer, so rules read lists and tables without locks while
// a reload (an API change, a file edited on disk, a Redis change notice) swaps in the
// next Catalog. Nothing here knows CEL, stores or the API: the rules package reads a
// Holder from its functions (in_list, ref, lookup), the rule store keeps the datasets'
// text, and the API service parses imports with Parse.
//
// # Text form
//
// A dataset is stored and exchanged as CSV whose header names the columns. The first
// column is the key (a list has only that column); a table's other columns may carry a
// type after a colon: `merchant_id,tier,score:double,blocked:bool` (string by default;
// int, double and bool). Encode writes the canonical form (header, then the rows sorted
// by key), so equal contents give equal text and digests. Parse also reads JSON lines
// for tables (one object per line, the key under a named field, the other fields as
// columns with types inferred).
//
// # Concurrency
//
// Datasets, Indexes and Catalogs are immutable and safe for concurrent use. A Holder is
// safe for concurrent Load and Store.
package refdata
