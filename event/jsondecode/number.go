package jsondecode

// pow10 holds the powers of ten a float64 holds exactly, up to those shortDecimal needs.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// maxShortDigits bounds the digits shortDecimal reads: 10^15 < 2^53, so the digits are an
// integer a float64 holds exactly.
const maxShortDigits = 15

// shortDecimal returns the value of b when it is a short plain decimal, -?D+(.D+)? with at
// most maxShortDigits digits D in all, the common shape of amounts and coordinates;
// false for anything else, which parseDouble leaves to strconv.ParseFloat. The digits
// are an integer m below 2^53 and the fraction's length k at most 15, so m and 10^k are
// exact float64s and m/10^k, one IEEE division, is the decimal correctly rounded: what
// strconv.ParseFloat returns (by the same division, its atof64exact).
// TestShortDecimalIsParseFloat and FuzzShortDecimalIsParseFloat compare the two.
func shortDecimal(b []byte) (float64, bool) {
	f, e, ok := decimalPrefix(b, 0)
	return f, ok && e == len(b)
}

// decimalPrefix reads the decimal that starts at b[i], as shortDecimal does: it returns
// the offset of the first byte after the digits (and at most one point among them), and
// the value when those bytes are a short plain decimal, false otherwise. The fast path
// reads a number member's value in place by it; the byte at the offset tells whether
// the token ended there (shortDecimal: the end of b).
func decimalPrefix(b []byte, i int) (float64, int, bool) {
	neg := false
	if i < len(b) && b[i] == '-' {
		i, neg = i+1, true
	}
	var m uint64
	s := i                                   // the first digit
	for ; i < len(b) && b[i]-'0' <= 9; i++ { // bytes below '0' wrap above 9
		m = m*10 + uint64(b[i]-'0')
	}
	nd, k := i-s, 0 // digits; digits after the point
	if nd > 0 && i < len(b) && b[i] == '.' {
		i++
		p := i
		for ; i < len(b) && b[i]-'0' <= 9; i++ {
			m = m*10 + uint64(b[i]-'0')
		}
		if k = i - p; k == 0 {
			return 0, i, false
		}
		nd += k
	}
	if nd == 0 || nd > maxShortDigits {
		return 0, i, false
	}
	f := float64(m) / pow10[k]
	if neg {
		f = -f
	}
	return f, i, true
}

// maxIntDigits bounds the digits intPrefix reads: 10^18 < 2^63, so they cannot overflow.
const maxIntDigits = 18

// intPrefix reads the integer -?D+ (at most maxIntDigits digits) that starts at b[i]: it
// returns the offset of the first byte after the digits, and the value when there is at
// least one digit and no more than maxIntDigits; where the token ends there, that is
// strconv.ParseInt's value of it (TestIntPrefixIsParseInt).
func intPrefix(b []byte, i int) (int64, int, bool) {
	neg := false
	if i < len(b) && b[i] == '-' {
		i, neg = i+1, true
	}
	var n int64
	nd := 0
	for ; i < len(b); i++ {
		c := b[i] - '0'
		if c > 9 {
			break
		}
		n = n*10 + int64(c)
		nd++
	}
	if nd == 0 || nd > maxIntDigits {
		return 0, i, false
	}
	if neg {
		n = -n
	}
	return n, i, true
}
