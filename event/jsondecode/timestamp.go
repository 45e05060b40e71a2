package jsondecode

// rfc3339UTC reads the common shape of an RFC 3339 time, "YYYY-MM-DDTHH:MM:SS[.F]Z" with
// 1 to 9 fraction digits, UTC, and a year from 1970 to 2199, as Unix nanoseconds. It
// reports false for anything else (other offsets, a comma before the fraction, lower-case
// letters, an invalid date or clock), which parseTimestamp leaves to time.Parse; where it
// reports true, time.Parse(time.RFC3339Nano) gives the same instant
// (TestRFC3339UTCAgrees, FuzzRFC3339UTCAgrees). The years keep every result inside the
// range an int64 of nanoseconds holds, so no overflow check is needed.
func rfc3339UTC(b []byte) (int64, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' ||
		b[len(b)-1] != 'Z' {
		return 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || year < 1970 || year > 2199 ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
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
		for range 10 - len(f) {
			n *= 10
		}
		frac = n
	}
	secs := daysFromCivil(year, month, day)*86400 + hour*3600 + minute*60 + sec
	return secs*1e9 + frac, true
}

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
