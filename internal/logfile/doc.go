// Package logfile opens the append-only files cepd keeps (the alerts file, the
// checkpoint partition logs, the rule store's history and audit logs) for reading, where
// a file that does not exist yet is an empty log. It depends on the standard library
// only, so the core packages (alerts, state) may use it. Its functions hold no state and
// are safe for concurrent use.
package logfile
