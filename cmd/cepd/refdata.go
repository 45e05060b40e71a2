package main

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/cepd/cepd/rules/refdata"
)

// loadRefData loads the lists and reference tables of the rules directory (DIR/data).
func loadRefData(rulesDir string) (*refdata.Holder, error) {
	cat, err := refdata.LoadDir(filepath.Join(rulesDir, refdata.DirName))
	if err != nil {
		return nil, fmt.Errorf("lists and tables: %w", err)
	}
	logRefData(cat)
	return refdata.NewHolder(cat), nil
}

// reloadRefData reads DIR/data again and swaps the result in: rules read the new entries
// from their next evaluation, with no recompilation and no state lost. Data that does not
// parse changes nothing.
func reloadRefData(h *refdata.Holder, rulesDir string) error {
	cat, err := refdata.LoadDir(filepath.Join(rulesDir, refdata.DirName))
	if err != nil {
		return fmt.Errorf("lists and tables not reloaded, the loaded ones stay: %w", err)
	}
	h.Store(cat)
	logRefData(cat)
	return nil
}

func logRefData(cat *refdata.Catalog) {
	for _, d := range cat.All() {
		slog.Info("reference data loaded", "name", d.Name, "kind", d.Kind, "entries", d.Len(), "digest", d.Digest)
	}
}
