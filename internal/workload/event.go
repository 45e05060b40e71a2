package workload

import (
	"strconv"
	"time"
)

// evType is an event's type field.
type evType uint8

const (
	tAuth evType = iota
	tCapture
	tRefund
	tReversal
	tLogin
	tPasswordReset
	tDeviceChange
	tTransfer
)

var typeNames = [...]string{"auth", "capture", "refund", "reversal", "login", "password_reset", "device_change", "transfer"}

// channel is how an event reached the issuer.
type channel uint8

const (
	chNone channel = iota
	chPOS
	chEcom
	chATM
	chApp
	chWeb
)

var channelNames = [...]string{"", "pos", "ecom", "atm", "app", "web"}

// ev is one pending event. Optional fields are absent when zero (merchant, city, label:
// -1; cp: -1). Events are pooled: the generator recycles them once written.
type ev struct {
	ts       int64 // event time, epoch ms
	seq      uint64
	release  int64 // for late events: written once the stream reaches this time
	card     int32
	typ      evType
	channel  channel
	cp       int8 // card_present: -1 absent, 0 false, 1 true
	label    int8 // scenario index, -1 for genuine events
	geo      bool // lat/lon present
	hasAmt   bool
	amount   float64
	merchant int32 // -1: none
	city     int16 // -1: no country/city
	lat, lon float64
	device   uint64 // 0: none
	ip       uint32 // 0: none
	authID   uint64 // 0: none
}

func (e *ev) reset() {
	*e = ev{merchant: -1, city: -1, cp: -1, label: -1}
}

// appendPadded appends prefix and n in decimal, zero-padded to width digits.
func appendPadded(b []byte, prefix string, n uint64, width int) []byte {
	b = append(b, prefix...)
	var tmp [20]byte
	d := strconv.AppendUint(tmp[:0], n, 10)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

func appendIP(b []byte, ip uint32) []byte {
	b = strconv.AppendUint(b, uint64(ip>>24), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(ip>>16&0xff), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(ip>>8&0xff), 10)
	b = append(b, '.')
	return strconv.AppendUint(b, uint64(ip&0xff), 10)
}

// appendTS appends ms as RFC 3339 in UTC with milliseconds (2024-01-01T09:30:00.000Z).
// The date part is formatted once per day: the generic formatter was a quarter of the
// generator's time.
func (g *Generator) appendTS(b []byte, ms int64) []byte {
	const day = 86400000
	d := ms / day
	if ms < 0 && ms%day != 0 {
		d--
	}
	if d != g.tsDay || g.tsDate == nil {
		g.tsDay = d
		g.tsDate = time.UnixMilli(d*day).UTC().AppendFormat(g.tsDate[:0], "2006-01-02T")
	}
	b = append(b, g.tsDate...)
	r := ms - d*day
	two := func(b []byte, v int64) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	b = two(b, r/3600000)
	b = append(b, ':')
	b = two(b, r/60000%60)
	b = append(b, ':')
	b = two(b, r/1000%60)
	milli := r % 1000
	return append(b, '.', byte('0'+milli/100), byte('0'+milli/10%10), byte('0'+milli%10), 'Z')
}

// encode appends e as one JSON line (fields in the schema's order, absent ones left out).
// id is the event's position in the stream.
func (g *Generator) encode(b []byte, e *ev, id uint64) []byte {
	c := &g.cards[e.card]
	b = appendPadded(b, `{"event_id":"e`, id, 10)
	b = appendPadded(b, `","card_id":"c`, uint64(e.card), 7)
	b = appendPadded(b, `","account_id":"a`, uint64(e.card), 7)
	b = append(b, `","ts":"`...)
	b = g.appendTS(b, e.ts)
	b = append(b, `","type":"`...)
	b = append(b, typeNames[e.typ]...)
	b = append(b, '"')
	if e.hasAmt {
		b = append(b, `,"amount":`...)
		b = strconv.AppendFloat(b, e.amount, 'f', 2, 64)
		b = append(b, `,"currency":"`...)
		b = append(b, cities[c.home].currency...)
		b = append(b, '"')
	}
	if e.merchant >= 0 {
		cat := g.merch.cat(e.merchant)
		id := uint64(e.merchant)
		if x := g.merch.all[e.merchant].ext; x != 0 {
			id = uint64(x)
		}
		b = appendPadded(b, `,"merchant_id":"m`, id, 6)
		b = append(b, `","mcc":"`...)
		b = append(b, cat.mcc...)
		b = append(b, `","category":"`...)
		b = append(b, cat.name...)
		b = append(b, '"')
	}
	if e.city >= 0 {
		ci := &cities[e.city]
		b = append(b, `,"country":"`...)
		b = append(b, ci.country...)
		b = append(b, `","city":"`...)
		b = append(b, ci.name...)
		b = append(b, '"')
	}
	if e.geo {
		b = append(b, `,"lat":`...)
		b = strconv.AppendFloat(b, e.lat, 'f', 4, 64)
		b = append(b, `,"lon":`...)
		b = strconv.AppendFloat(b, e.lon, 'f', 4, 64)
	}
	if e.cp >= 0 {
		if e.cp == 1 {
			b = append(b, `,"card_present":true`...)
		} else {
			b = append(b, `,"card_present":false`...)
		}
	}
	if e.channel != chNone {
		b = append(b, `,"channel":"`...)
		b = append(b, channelNames[e.channel]...)
		b = append(b, '"')
	}
	if e.device != 0 {
		b = append(b, `,"device_id":"d`...)
		b = strconv.AppendUint(b, e.device, 16)
		b = append(b, '"')
	}
	if e.ip != 0 {
		b = append(b, `,"ip":"`...)
		b = appendIP(b, e.ip)
		b = append(b, '"')
	}
	if e.authID != 0 {
		b = appendPadded(b, `,"auth_id":"au`, e.authID, 10)
		b = append(b, '"')
	}
	if e.label >= 0 {
		b = append(b, `,"label":"`...)
		b = append(b, scenarios[e.label].name...)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}
