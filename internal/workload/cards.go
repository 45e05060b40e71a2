package workload

import "math/rand/v2"

// card is one cardholder's state: where they live and are, how they spend, the device
// and address they bank from.
type card struct {
	home, city  int16   // home city; city the card is in now
	online      float64 // propensity to shop online, 0.1–0.6
	spend       float64 // multiplier on every category's median amount
	activity    float64 // thinning weight: how busy the cardholder is, 0.3–1
	availableAt int64   // in transit (no activity) until then, epoch ms
	returnAt    int64   // when a trip ends (0: at home)
	device      uint64
	ipHost      uint32 // low 24 bits of the card's addresses
}

func (g *Generator) newCards(r *rand.Rand, n int) {
	w := make([]float64, len(cities))
	for i, c := range cities {
		w[i] = c.weight
	}
	g.cards = make([]card, n)
	for i := range g.cards {
		h := int16(pick(r, w))
		g.nextDevice++
		g.cards[i] = card{
			home:     h,
			city:     h,
			online:   uniform(r, 0.1, 0.6),
			spend:    logNormal(r, 1, 0.35),
			activity: uniform(r, 0.3, 1),
			device:   g.nextDevice,
			ipHost:   uint32(r.IntN(1<<24-2) + 1),
		}
	}
}

// ip is the address the card's owner uses where they are now.
func (c *card) ip() uint32 { return uint32(cities[c.city].ipPrefix)<<24 | c.ipHost }

// flightMs is how long getting from city a to b takes door to door: 750 km/h plus an
// hour and a half, so genuine trips never look like impossible travel.
func flightMs(a, b int) int64 {
	return int64((cityKm(a, b)/750 + 1.5) * 3600e3)
}
