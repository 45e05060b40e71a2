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
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		i, neg = 1, true
	}
	var m uint64
	nd, dot := 0, -1 // digits read; digits before the point (-1: no point yet)
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			nd++
		case c == '.' && dot < 0 && nd > 0:
			dot = nd
		default:
			return 0, false
		}
	}
	if nd == 0 || nd > maxShortDigits || dot == nd {
		return 0, false
	}
	f := float64(m)
	if dot >= 0 {
		f /= pow10[nd-dot]
	}
	if neg {
		f = -f
	}
	return f, true
}
