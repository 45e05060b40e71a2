package jsondecode

import "encoding/binary"

// rfc3339UTC reads the common shape of an RFC 3339 time, "YYYY-MM-DDTHH:MM:SS[.F]Z" with
// 1 to 9 fraction digits, UTC, and a year from 1970 to 2199, as Unix nanoseconds. It
// reports false for anything else (other offsets, a comma before the fraction, lower-case
// letters, an invalid date or clock), which parseTimestamp leaves to time.Parse; where it
// reports true, time.Parse(time.RFC3339Nano) gives the same instant
// (TestRFC3339UTCAgrees, FuzzRFC3339UTCAgrees). The years keep every result inside the
// range an int64 of nanoseconds holds, so no overflow check is needed.
func rfc3339UTC(b []byte) (int64, bool) {
	if len(b) < 20 {
		return 0, false
	}
	days, ok := dateDays(b)
	if !ok {
		return 0, false
	}
	return clock(b, days)
}

// dateDays reads the date of rfc3339UTC's shape, b[:10] ("YYYY-MM-DD", len(b) >= 10), as
// days since 1970-01-01; false for a malformed or invalid date or a year outside 1970 to
// 2199.
func dateDays(b []byte) (int64, bool) {
	if b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	y0, y1, y2, y3 := b[0]-'0', b[1]-'0', b[2]-'0', b[3]-'0' // bytes: below '0' wraps above 9
	mo0, mo1, d0, d1 := b[5]-'0', b[6]-'0', b[8]-'0', b[9]-'0'
	if max(y0, y1, y2, y3, mo0, mo1, d0, d1) > 9 {
		return 0, false
	}
	year := int64(y0)*1000 + int64(y1)*100 + int64(y2)*10 + int64(y3)
	month, day := int64(mo0)*10+int64(mo1), int64(d0)*10+int64(d1)
	if year < 1970 || year > 2199 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) {
		return 0, false
	}
	return daysFromCivil(year, month, day), true
}

// clock reads the rest of rfc3339UTC's shape after the date, b[10:] ("THH:MM:SS[.F]Z",
// len(b) >= 20), and returns the instant days days after 1970-01-01 at that time, as Unix
// nanoseconds; false for anything else.
func clock(b []byte, days int64) (int64, bool) {
	if b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return 0, false
	}
	h0, h1, mi0, mi1, s0, s1 := b[11]-'0', b[12]-'0', b[14]-'0', b[15]-'0', b[17]-'0', b[18]-'0'
	if max(h0, h1, mi0, mi1, s0, s1) > 9 {
		return 0, false
	}
	hour, minute, sec := int64(h0)*10+int64(h1), int64(mi0)*10+int64(mi1), int64(s0)*10+int64(s1)
	if hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	var frac int64
	if f := b[19 : len(b)-1]; len(f) > 0 {
		if f[0] != '.' || len(f) < 2 || len(f) > 10 {
			return 0, false
		}
		n, ok := digits(f[1:])
		if !ok {
			return 0, false
		}
		frac = n * fracScale[len(f)-1]
	}
	secs := days*86400 + hour*3600 + minute*60 + sec
	return secs*1e9 + frac, true
}

// dateCache holds the date of the last time rfc3339 read: a producer's events are in
// time order, so most share their date with the event before.
type dateCache struct {
	w    uint64 // the date's first 8 bytes, little-endian
	h    uint16 // its last 2
	days int64  // its dateDays
	ok   bool   // whether a date is held
}

// rfc3339 is rfc3339UTC, reading the date from the cache when it is the last one read.
func (c *dateCache) rfc3339(b []byte) (int64, bool) {
	if len(b) < 20 {
		return 0, false
	}
	w, h := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint16(b[8:])
	if !c.ok || w != c.w || h != c.h {
		days, ok := dateDays(b)
		if !ok {
			return 0, false
		}
		*c = dateCache{w: w, h: h, days: days, ok: true}
	}
	return clock(b, c.days)
}

// fracScale[k] turns k fraction digits into nanoseconds.
var fracScale = [...]int64{0, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1}

// digits returns the decimal value of b, false when b holds anything but ASCII digits.
func digits(b []byte) (int64, bool) {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func daysIn(month, year int64) int64 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days from 1970-01-01 to the given date of the proleptic
// Gregorian calendar (year ≥ 0; Howard Hinnant's days_from_civil).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
