package defaults

// Number is what a count, a size or a duration is (time.Duration is an int64).
type Number interface {
	~int | ~int32 | ~int64 | ~float64
}

// Positive sets *v to d when *v is not positive.
func Positive[T Number](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}
