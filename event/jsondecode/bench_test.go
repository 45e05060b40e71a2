package jsondecode

import (
	"testing"

	"github.com/cepd/cepd/event"
)

// BenchmarkDecode decodes a realistic card event by the fraud schema.
func BenchmarkDecode(b *testing.B) {
	s, err := event.LoadSchema("../../testdata/fraud/schema.yaml")
	if err != nil {
		b.Fatal(err)
	}
	line := []byte(`{"event_id":"e000000042","card_id":"card-0012345","account_id":"acct-0012345","ts":"2024-01-01T08:15:02.123Z","type":"auth","amount":42.17,"currency":"EUR","merchant_id":"m-00421","mcc":"5411","category":"grocery","country":"FR","city":"Paris","lat":48.8566,"lon":2.3522,"card_present":true,"channel":"pos"}`)
	d := NewDecoder(s)
	var ev Event
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := d.Decode(line, &ev); err != nil {
			b.Fatal(err)
		}
	}
}
