package workload

import (
	"math"
	"math/rand/v2"
)

// category is a kind of merchant: its ISO 18245 code, how much people spend there
// (log-normal: median and sigma of the log) and how often the card is present.
type category struct {
	name     string
	mcc      string
	median   float64
	sigma    float64
	cpShare  float64 // share of card-present purchases
	weight   float64 // share of purchases
	highRisk bool    // in the high-risk-mcc-burst rule's list
}

// categories follow the spending mix of card generators such as Sparkov: groceries,
// restaurants and fuel dominate; high-risk codes are rare.
var categories = []category{
	{"grocery", "5411", 45, 0.6, 0.92, 20, false},
	{"restaurant", "5812", 35, 0.6, 0.90, 12, false},
	{"fast_food", "5814", 12, 0.5, 0.85, 10, false},
	{"fuel", "5541", 55, 0.35, 0.97, 8, false},
	{"pharmacy", "5912", 22, 0.7, 0.85, 5, false},
	{"clothing", "5651", 65, 0.8, 0.50, 7, false},
	{"electronics", "5732", 180, 1.0, 0.35, 4, false},
	{"books", "5942", 25, 0.6, 0.40, 2, false},
	{"home", "5200", 90, 0.9, 0.70, 4, false},
	{"airline", "4511", 350, 0.7, 0.02, 1.5, false},
	{"hotel", "7011", 160, 0.6, 0.50, 1.5, false},
	{"taxi", "4121", 20, 0.6, 0.50, 4, false},
	{"digital", "5815", 9, 0.8, 0, 5, false},
	{"games", "5816", 15, 0.9, 0, 3, false},
	{"entertainment", "7832", 22, 0.5, 0.80, 3, false},
	{"jewelry", "5944", 300, 1.0, 0.80, 0.5, false},
	{"misc", "5999", 40, 1.0, 0.30, 4, false},
	{"gambling", "7995", 40, 1.0, 0.05, 0.4, true},
	{"lottery", "7801", 20, 0.7, 0.30, 0.2, true},
	{"money_transfer", "4829", 200, 0.8, 0, 0.2, true},
	{"crypto", "6051", 150, 1.0, 0, 0.15, true},
	{"stored_value", "6540", 50, 0.6, 0.30, 0.2, true},
}

// catIndex finds a category by name (the tables are small and fixed).
func catIndex(name string) int {
	for i, c := range categories {
		if c.name == name {
			return i
		}
	}
	panic("workload: no category " + name)
}

// merchant is one acceptor. Online merchants have no place (city -1); ATMs are
// merchants whose cat is merchants.atmCat, one past the purchase categories.
type merchant struct {
	cat      int
	city     int // -1 for online merchants
	lat, lon float64
	// ext, when not 0, is the merchant's id number in events (m<ext>) instead of its
	// index: the ring merchants that testdata/fraud/data lists by id.
	ext uint32
}

// ringMerchants are online merchants with fixed ids, named in testdata/fraud/data: the
// risk table rates the first three high (merchant_risk.table.csv) and the watch list
// holds the other five (merchant_watch.watch.csv). Only the watchlist-merchant scenario
// uses them; genuine traffic never draws them.
var ringMerchants = []struct {
	ext uint32
	cat string
}{
	{990010, "crypto"}, {990011, "money_transfer"}, {990012, "gambling"},
	{990001, "stored_value"}, {990002, "stored_value"}, {990003, "electronics"}, {990004, "stored_value"}, {990005, "digital"},
}

// ringRisky and ringWatched are how many of ringMerchants are high-risk and watched.
const ringRisky, ringWatched = 3, 5

// merchants indexes the merchant table for fast draws: per city and category the local
// ones, per category the online ones, per city the ATMs.
type merchants struct {
	all    []merchant
	local  [][]int32 // city*len(categories)+cat → merchant indices
	online [][]int32 // cat → merchant indices
	atms   [][]int32 // city → ATM indices
	atmCat int       // the category index reported for ATMs (a virtual entry)
	ring   []int32   // the indices of ringMerchants, in order
}

// atmCategory is the category of ATM withdrawals (mcc 6011), kept out of the
// purchase mix.
var atmCategory = category{"atm", "6011", 0, 0, 1, 0, false}

func newMerchants(r *rand.Rand, cards int) *merchants {
	n := max(400, cards/15)
	m := &merchants{
		local:  make([][]int32, len(cities)*len(categories)),
		online: make([][]int32, len(categories)),
		atms:   make([][]int32, len(cities)),
		atmCat: len(categories),
	}
	cityW := make([]float64, len(cities))
	for i, c := range cities {
		cityW[i] = c.weight + 0.5 // every city has some merchants
	}
	catW := make([]float64, len(categories))
	for i, c := range categories {
		catW[i] = c.weight
	}
	// Every (city, category) and every online category gets at least one merchant, so
	// draws never come up empty; the rest are spread by weight.
	add := func(cat, ci int) {
		mc := merchant{cat: cat, city: ci}
		if ci >= 0 {
			mc.lat = cities[ci].lat + r.NormFloat64()*0.05
			mc.lon = cities[ci].lon + r.NormFloat64()*0.05
			m.local[ci*len(categories)+cat] = append(m.local[ci*len(categories)+cat], int32(len(m.all)))
		} else {
			m.online[cat] = append(m.online[cat], int32(len(m.all)))
		}
		m.all = append(m.all, mc)
	}
	for ci := range cities {
		for cat := range categories {
			add(cat, ci)
		}
	}
	for cat := range categories {
		add(cat, -1)
		add(cat, -1)
	}
	for len(m.all) < n {
		cat := pick(r, catW)
		if r.Float64() < 1-categories[cat].cpShare*0.8 {
			add(cat, -1)
		} else {
			add(cat, pick(r, cityW))
		}
	}
	// The ring merchants: in no draw list, and made without a random draw, so the rest
	// of the workload is as it was without them.
	for _, rm := range ringMerchants {
		m.ring = append(m.ring, int32(len(m.all)))
		m.all = append(m.all, merchant{cat: catIndex(rm.cat), city: -1, ext: rm.ext})
	}
	// ATMs: a handful per city, more in bigger ones.
	for ci, c := range cities {
		k := 4 + int(math.Round(c.weight*3))
		for range k {
			m.atms[ci] = append(m.atms[ci], int32(len(m.all)))
			m.all = append(m.all, merchant{cat: m.atmCat, city: ci,
				lat: c.lat + r.NormFloat64()*0.05, lon: c.lon + r.NormFloat64()*0.05})
		}
	}
	return m
}

// cat returns the category of merchant i (ATMs included).
func (m *merchants) cat(i int32) *category {
	c := m.all[i].cat
	if c == m.atmCat {
		return &atmCategory
	}
	return &categories[c]
}

func (m *merchants) localOf(r *rand.Rand, ci, cat int) int32 {
	l := m.local[ci*len(categories)+cat]
	return l[r.IntN(len(l))]
}

func (m *merchants) onlineOf(r *rand.Rand, cat int) int32 {
	l := m.online[cat]
	return l[r.IntN(len(l))]
}

func (m *merchants) atmIn(r *rand.Rand, ci int) int32 {
	l := m.atms[ci]
	return l[r.IntN(len(l))]
}
