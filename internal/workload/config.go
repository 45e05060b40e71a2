package workload

import (
	"fmt"
	"time"
)

// Config says what stream to generate. The same Config gives the same bytes.
type Config struct {
	// Seed seeds the PCG generator that every random draw comes from.
	Seed uint64
	// Cards is the number of cardholders (each card is also an online-banking account).
	Cards int
	// Events is the exact number of events to write.
	Events int64
	// Start is the event time the stream begins at (zero: 2024-01-01T00:00:00Z).
	Start time.Time
	// FraudRate is the target share of events that belong to injected fraud scenarios
	// (0 injects none). The generator keeps the running share close to it.
	FraudRate float64
	// LateRate is the share of events written late: after events up to MaxLateness
	// younger than themselves (0 keeps the stream in event-time order).
	LateRate float64
	// MaxLateness bounds how late a late event is (zero: 5s). An engine with at least
	// this out-of-orderness sees no late event.
	MaxLateness time.Duration
	// ActivitiesPerCardPerDay is how often, on average, a cardholder does something
	// (zero: 3). It sets how much event time the stream spans.
	ActivitiesPerCardPerDay float64
	// Scenarios restricts the injected fraud scenarios to these names (nil: all of
	// ScenarioNames).
	Scenarios []string
}

// DefaultConfig is the configuration of `cepd gen` without flags.
func DefaultConfig() Config {
	return Config{
		Seed:                    1,
		Cards:                   10000,
		Events:                  100000,
		Start:                   time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		FraudRate:               0.007,
		LateRate:                0.005,
		MaxLateness:             5 * time.Second,
		ActivitiesPerCardPerDay: 3,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Start.IsZero() {
		c.Start = d.Start
	}
	if c.MaxLateness == 0 {
		c.MaxLateness = d.MaxLateness
	}
	if c.ActivitiesPerCardPerDay == 0 {
		c.ActivitiesPerCardPerDay = d.ActivitiesPerCardPerDay
	}
	return c
}

// Validate reports a configuration that cannot be generated.
func (c Config) Validate() error {
	switch {
	case c.Cards < 1:
		return fmt.Errorf("workload: cards must be at least 1, not %d", c.Cards)
	case c.Cards > 10_000_000:
		return fmt.Errorf("workload: at most 10,000,000 cards, not %d", c.Cards)
	case c.Events < 0:
		return fmt.Errorf("workload: events must not be negative")
	case c.FraudRate < 0 || c.FraudRate > 0.5:
		return fmt.Errorf("workload: fraud rate %g: want 0 to 0.5", c.FraudRate)
	case c.LateRate < 0 || c.LateRate > 0.5:
		return fmt.Errorf("workload: late rate %g: want 0 to 0.5", c.LateRate)
	case c.MaxLateness < 0 || c.MaxLateness%time.Millisecond != 0:
		return fmt.Errorf("workload: max lateness %v: want whole positive milliseconds", c.MaxLateness)
	case c.ActivitiesPerCardPerDay < 0:
		return fmt.Errorf("workload: activities per card per day must not be negative")
	}
	for _, s := range c.Scenarios {
		if scenarioIndex(s) < 0 {
			return fmt.Errorf("workload: no fraud scenario %q (have %v)", s, ScenarioNames())
		}
	}
	return nil
}
