package store_test

import (
	"testing"

	"github.com/cepd/cepd/rules/store"
)

// TestParseMode: modes are read in any letter case and named in the error otherwise.
func TestParseMode(t *testing.T) {
	for in, want := range map[string]store.Mode{"active": store.Active, "SHADOW": store.Shadow, "Disabled": store.Disabled} {
		if m, err := store.ParseMode(in); err != nil || m != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, m, err, want)
		}
	}
	for _, in := range []string{"", "actif", "RULE_MODE_UNSPECIFIED", "1"} {
		if _, err := store.ParseMode(in); err == nil || err.Error() != `mode "`+in+`": want active, shadow or disabled` {
			t.Errorf("ParseMode(%q) error %v", in, err)
		}
	}
}
