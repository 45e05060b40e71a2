package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const tokens = `
# token                 role     name
viewer-token-0123456789 viewer   vera
analyst-token-01234567  analyst  ann
admin-token-0123456789  admin
ingest-token-012345678  ingest   pos-gateway
`

func TestCheck(t *testing.T) {
	tk, err := Parse(tokens, "tokens")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		authz string
		cap   Capability
		want  string // "", "401", "403"
	}{
		{"", Read, "401"},
		{"Bearer nope-nope-nope-nope", Read, "401"},
		{"Basic viewer-token-0123456789", Read, "401"},
		{"Bearer viewer-token-0123456789", Read, ""},
		{"bearer viewer-token-0123456789", Read, ""}, // the scheme is case-insensitive
		{"BEARER  viewer-token-0123456789 ", Read, ""},
		{"Bearerviewer-token-0123456789", Read, "401"},
		{"Bearer viewer-token-0123456789", Edit, "403"},
		{"Bearer viewer-token-0123456789", Send, "403"},
		{"Bearer analyst-token-01234567", Edit, ""},
		{"Bearer analyst-token-01234567", Manage, "403"},
		{"Bearer admin-token-0123456789", Manage, ""},
		{"Bearer admin-token-0123456789", Send, ""},
		{"Bearer ingest-token-012345678", Send, ""},
		{"Bearer ingest-token-012345678", Read, "403"},
		{"", Open, ""},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		tk.HTTP(tt.cap, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })).
			ServeHTTP(rec, func() *http.Request {
				r := httptest.NewRequest("GET", "/x", nil)
				if tt.authz != "" {
					r.Header.Set("Authorization", tt.authz)
				}
				return r
			}())
		got := map[int]string{204: "", 401: "401", 403: "403"}[rec.Code]
		if got != tt.want {
			t.Errorf("%q cap %d: got %d", tt.authz, tt.cap, rec.Code)
		}
	}
	if MethodCapability("/cep.v1.Rules/SetRuleMode") != Manage || MethodCapability("/cep.v1.Rules/ListRules") != Read ||
		MethodCapability("/cep.v1.Events/IngestEvents") != Send || MethodCapability("/cep.v1.Admin/GetHealth") != Open ||
		MethodCapability("/cep.v1.New/Thing") != Manage {
		t.Fatal("method table")
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{"x viewer", "long-enough-token-1 superuser", "tok-1234567890123456", "a-long-token-123456 viewer\na-long-token-123456 admin"} {
		if _, err := Parse(bad, "f"); err == nil || !strings.HasPrefix(err.Error(), "f:") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	var none *Tokens
	if none.Enabled() {
		t.Fatal("nil tokens enabled")
	}
}

// TestParseKeepsSecrets: a token file with its columns swapped (or any bad role) is
// refused without printing the secret in the error.
func TestParseKeepsSecrets(t *testing.T) {
	for _, bad := range []string{"admin s3cret-token-0123456789", "s3cret-token-0123456789 superuser", "viewer s3cret-token-0123456789 vera"} {
		_, err := Parse(bad, "tokens.txt")
		if err == nil || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "superuser") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := Parse("admin s3cret-token-0123456789", "f"); err == nil || !strings.Contains(err.Error(), "swapped") {
		t.Errorf("swapped columns: %v", err)
	}
}
