package rules

import "strings"

// Helper documents one of the helper functions the rule environment adds to CEL.
type Helper struct {
	Name string
	// Signature is how the helper is called, with its argument and result types.
	Signature string
	// Doc says what it returns, in a sentence.
	Doc string
	// Example is a condition or emit expression using it, from the shipped rules where one
	// does.
	Example string
}

// Helpers lists the helper functions in the order the documentation shows them. Error
// messages about a helper quote its signature from here; README.md's helper table is
// checked against it (TestHelpersDocumented).
var Helpers = []Helper{
	{"sum", "sum(list<number>) -> double", "the sum of the numbers (0.0 for an empty list)", "sum(match.probes.map(x, x.amount)) > 20.0"},
	{"avg", "avg(list<number>) -> double", "their mean (an error for an empty list)", "avg(match.ramp.map(x, x.amount))"},
	{"min", "min(list<T>) -> T", "the smallest element (numbers, strings, timestamps, durations; an error when empty)", "min(match.hits.map(x, x.amount))"},
	{"max", "max(list<T>) -> T", "the largest element (an error when empty)", "max(match.hits.map(x, x.amount))"},
	{"count", "count(list<T>) -> int", "the number of elements (as size())", "count(match.logins) >= 4"},
	{"distinct", "distinct(list<T>) -> int", "the number of distinct values, a count, not a list (1 == 1.0)", "distinct(match.hits.map(x, x.merchant_id)) == 5"},
	{"first", "first(list<T>) -> T", "the first element (an error when empty)", "e.auth_id == first(match.auth).auth_id"},
	{"last", "last(list<T>) -> T", "the last element (an error when empty)", "e.ts - last(match.probes).ts < duration('3m')"},
	{"geo_km", "geo_km(lat1 double, lon1 double, lat2 double, lon2 double) -> double", "the great-circle distance in kilometres between two points given in degrees", "geo_km(first(match.from).lat, first(match.from).lon, e.lat, e.lon) > 500.0"},
	{"hours_between", "hours_between(from timestamp, to timestamp) -> double", "to − from in hours (negative when to is earlier)", "hours_between(first(match.from).ts, e.ts)"},
	{"minutes_between", "minutes_between(from timestamp, to timestamp) -> double", "to − from in minutes", "minutes_between(first(match.probes).ts, e.ts)"},
	{"seconds_between", "seconds_between(from timestamp, to timestamp) -> double", "to − from in seconds", "seconds_between(first(match.splits).ts, e.ts) < 60.0"},
	{"in_list", "in_list(list string, value) -> bool", "whether the value is an entry of the named list (or a key of the named table); numbers match their decimal text", "in_list('merchant_watch', e.merchant_id)"},
	{"ref", "ref(table string, key) -> map(string, dyn)", "the row of the named reference table for the key, as a map of its columns (empty when the key is missing: test with has())", "ref('merchant_risk', e.merchant_id).tier == 'high'"},
	{"lookup", "lookup(table string, key, column string, default) -> dyn", "one column of the row for the key, or the default when the key or the cell is missing", "lookup('merchant_risk', e.merchant_id, 'tier', 'low')"},
}

// helper returns the helper named name.
func helper(name string) (Helper, bool) {
	if n, ok := dataFuncs[name]; ok {
		name = n // in_list is a macro over cepd.in_list
	}
	for _, h := range Helpers {
		if h.Name == name {
			return h, true
		}
	}
	return Helper{}, false
}

// params lists the parameter types of h's signature ("lat1 double" gives double).
func (h Helper) params() []string {
	in := h.Signature[strings.Index(h.Signature, "(")+1 : strings.Index(h.Signature, ")")]
	var out []string
	for _, p := range strings.Split(in, ",") {
		f := strings.Fields(p)
		if len(f) > 0 {
			out = append(out, f[len(f)-1])
		}
	}
	return out
}
