// Package defaults fills the unset fields of a configuration struct, so that every
// constructor states its defaults the same way: a count, size or duration that is not
// positive (unset, or nothing it could mean) takes the default.
//
// It holds no state; its functions are safe for concurrent use on distinct values.
package defaults
