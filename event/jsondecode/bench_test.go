package jsondecode

import (
	"syscall"
	"testing"

	"github.com/cepd/cepd/event"
)

// BenchmarkDecode decodes a realistic card event by the fraud schema, by the fast path
// (flat) and by the slow path (jsonparser.ObjectEach) side by side.
func BenchmarkDecode(b *testing.B) {
	for _, slow := range []bool{false, true} {
		name := "fast"
		if slow {
			name = "slow"
		}
		b.Run(name, func(b *testing.B) { benchDecode(b, slow) })
	}
}

func benchDecode(b *testing.B, slow bool) {
	s, err := event.LoadSchema("../../testdata/fraud/schema.yaml")
	if err != nil {
		b.Fatal(err)
	}
	line := []byte(`{"event_id":"e000000042","card_id":"card-0012345","account_id":"acct-0012345","ts":"2024-01-01T08:15:02.123Z","type":"auth","amount":42.17,"currency":"EUR","merchant_id":"m-00421","mcc":"5411","category":"grocery","country":"FR","city":"Paris","lat":48.8566,"lon":2.3522,"card_present":true,"channel":"pos"}`)
	d := NewDecoder(s)
	d.slow = slow
	var ev event.Event
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := d.Decode(line, &ev); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time of the process per event (GC included): steadier than wall time on a
	// shared machine.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
