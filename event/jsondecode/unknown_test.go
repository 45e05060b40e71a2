package jsondecode

import (
	"fmt"
	"sync"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/eventtest"
)

func TestDecoderCountsUnknownFields(t *testing.T) {
	s := eventtest.Schema(t, "name: s\nkey: k\ntime: ts\nfields:\n  k: string\n  ts: int\n")
	u := event.NewUnknownFields()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ { // decoders of several partitions share one tracker
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := NewDecoder(s)
			d.SetUnknown(u)
			var ev event.Event
			for i := 0; i < 100; i++ {
				js := fmt.Sprintf(`{"k":"a","ts":%d,"merchnat_id":"m1","extra_%d":1}`, i, w*100+i)
				if err := d.Decode([]byte(js), &ev); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	sn := u.Snapshot()
	if sn.Total != 800 || sn.ByName["merchnat_id"] != 400 || len(sn.ByName) != event.MaxUnknownNames || sn.Other != 800-400-uint64(event.MaxUnknownNames-1) {
		t.Fatalf("total %d, merchnat_id %d, %d names, other %d", sn.Total, sn.ByName["merchnat_id"], len(sn.ByName), sn.Other)
	}
	// Without a tracker nothing is counted, and known fields never are.
	d := NewDecoder(s)
	var ev event.Event
	if err := d.Decode([]byte(`{"k":"a","ts":1,"x":2}`), &ev); err != nil {
		t.Fatal(err)
	}
	u2 := event.NewUnknownFields()
	d.SetUnknown(u2)
	if err := d.Decode([]byte(`{"k":"a","ts":1}`), &ev); err != nil || u2.Snapshot().Total != 0 {
		t.Fatalf("known fields counted: %+v %v", u2.Snapshot(), err)
	}
}
