package workload

import (
	"math"
	"slices"
)

// A scenario injects one instance of a fraud pattern on a victim card: a few events at
// and after time t, every one labelled with the scenario's name, which is the id of the
// rule in testdata/fraud meant to catch it.
type scenario struct {
	name   string
	inject func(g *Generator, t int64, ci int32, label int8) bool
}

// scenarios, in the order Stats reports them. inject returns false (having built
// nothing it keeps) when the victim cannot take the scenario now, e.g. in the air.
var scenarios = []scenario{
	{"card-testing", (*Generator).cardTesting},
	{"velocity-burst", (*Generator).velocityBurst},
	{"impossible-travel", (*Generator).impossibleTravel},
	{"account-takeover", (*Generator).accountTakeover},
	{"auth-no-capture", (*Generator).authNoCapture},
	{"refund-exceeds-purchase", (*Generator).refundExceedsPurchase},
	{"refund-spree", (*Generator).refundSpree},
	{"high-risk-mcc-burst", (*Generator).highRiskBurst},
	{"atm-cashout", (*Generator).atmCashout},
	{"cp-then-distant-cnp", (*Generator).cpThenDistantCNP},
	{"many-merchants", (*Generator).manyMerchants},
	{"mule-transfers", (*Generator).muleTransfers},
	{"rising-amounts", (*Generator).risingAmounts},
	{"device-cashout", (*Generator).deviceCashout},
	{"split-transactions", (*Generator).splitTransactions},
	{"credential-stuffing", (*Generator).credentialStuffing},
	{"over-capture", (*Generator).overCapture},
	{"device-many-cards", (*Generator).deviceManyCards},
	{"zero-auth-storm", (*Generator).zeroAuthStorm},
	{"watchlist-merchant", (*Generator).watchlistMerchant},
	{"auths-per-hour", (*Generator).authsPerHour},
	{"merchant-repeat", (*Generator).merchantRepeat},
	{"online-spend-24h", (*Generator).onlineSpend24h},
}

// ScenarioNames lists the fraud scenarios the generator can inject; each is also the
// label its events carry.
func ScenarioNames() []string {
	out := make([]string, len(scenarios))
	for i, s := range scenarios {
		out[i] = s.name
	}
	return out
}

func scenarioIndex(name string) int {
	for i, s := range scenarios {
		if s.name == name {
			return i
		}
	}
	return -1
}

// farCity draws a city at least minKm from city from (the farthest one if none is).
func (g *Generator) farCity(from int16, minKm float64) int16 {
	for range 16 {
		c := int16(g.r.IntN(len(cities)))
		if cityKm(int(from), int(c)) >= minKm {
			return c
		}
	}
	best, bestKm := from, 0.0
	for c := range cities {
		if d := cityKm(int(from), c); d > bestKm {
			best, bestKm = int16(c), d
		}
	}
	return best
}

// attacker makes an event look as if it came from the fraudster's device and a fresh
// address in city (card-not-present fraud mostly goes through residential proxies in the
// victim's own city, to beat geolocation checks; account attacks often do not bother).
func (g *Generator) attacker(e *ev, city int16, device uint64) {
	e.device = device
	e.ip = uint32(cities[city].ipPrefix)<<24 | uint32(g.r.IntN(1<<24-2)+1)
	g.geoAround(e, city)
}

// attackerBuy is a fraudster's online authorisation on card ci at merchant m, from a
// fresh address in city on device dev, settled as a genuine one would be.
func (g *Generator) attackerBuy(t int64, ci int32, city int16, dev uint64, m int32, amount float64, label int8) *ev {
	a := g.auth(t, ci, &g.cards[ci], m, amount, false, label)
	g.attacker(a, city, dev)
	g.settle(a, label)
	return a
}

// attackerEv is an event of type typ on card ci through channel ch from the fraudster's
// device dev and a fresh address in city (the account attacks: logins, resets, devices,
// transfers).
func (g *Generator) attackerEv(t int64, ci int32, typ evType, ch channel, city int16, dev uint64, label int8) *ev {
	e := g.newEv(t, ci, typ, label)
	e.channel = ch
	g.attacker(e, city, dev)
	return e
}

// presentBuy is a card-present authorisation on card ci at merchant m with its
// position, settled as a genuine one would be.
func (g *Generator) presentBuy(t int64, ci int32, m int32, amount float64, label int8) *ev {
	a := g.auth(t, ci, &g.cards[ci], m, amount, true, label)
	a.geo = true
	g.settle(a, label)
	return a
}

// payAtHome is the genuine cardholder paying in person, about median, at a shop of
// category cat in their home city; false (nothing built) when they are in the air.
func (g *Generator) payAtHome(t int64, ci int32, cat string, median float64, label int8) bool {
	c := &g.cards[ci]
	if busy(c, t) {
		return false
	}
	g.presentBuy(t, ci, g.merch.localOf(g.r, int(c.city), catIndex(cat)), logNormal(g.r, median, 0.5), label)
	return true
}

// repeatAt is n settled online authorisations on card ci at merchant shop, each for
// amount(), gapLo–gapHi seconds apart (a merchant's own device, not the fraudster's).
func (g *Generator) repeatAt(t int64, ci int32, shop int32, n int, amount func() float64, gapLo, gapHi float64, label int8) {
	for ; n > 0; n-- {
		a := g.auth(t, ci, &g.cards[ci], shop, amount(), false, label)
		g.settle(a, label)
		t += between(g.r, gapLo, gapHi)
	}
}

// spree is the shape of the burst scenarios: n attackerBuy on card ci from its
// cardholder's city on device dev, the i-th at merchant shop(i) for lo–hi, gapLo–gapHi
// seconds apart.
func (g *Generator) spree(t int64, ci int32, dev uint64, label int8, n int, shop func(i int) int32, lo, hi, gapLo, gapHi float64) {
	r, city := g.r, g.cards[ci].city
	for i := range n {
		g.attackerBuy(t, ci, city, dev, shop(i), uniform(r, lo, hi), label)
		t += between(r, gapLo, gapHi)
	}
}

// A burst is the scenarios that are one spree from a fresh device: n to n+more-1
// purchases of lo–hi, gapLo–gapHi seconds apart, at the shops that shops draws for the
// instance.
type burst struct {
	n, more              int
	shops                func(g *Generator) func(i int) int32
	lo, hi, gapLo, gapHi float64
}

// burst injects b on card ci.
func (g *Generator) burst(t int64, ci int32, label int8, b burst) bool {
	dev := g.newDevice()
	shop := b.shops(g)
	g.spree(t, ci, dev, label, b.n+g.r.IntN(b.more), shop, b.lo, b.hi, b.gapLo, b.gapHi)
	return true
}

// someOf draws an online shop of each category of cats, keeps the first least of them
// and at random some of the others, and picks one of the kept shops at random for each
// purchase.
func someOf(least int, cats ...string) func(g *Generator) func(i int) int32 {
	return func(g *Generator) func(i int) int32 {
		shops := make([]int32, len(cats))
		for i, c := range cats {
			shops[i] = g.online(c)
		}
		shops = shops[:least+g.r.IntN(len(cats)-least+1)]
		return func(int) int32 { return shops[g.r.IntN(len(shops))] }
	}
}

// anyOf draws a shop of a category of cats picked at random for each purchase.
func anyOf(cats ...string) func(g *Generator) func(i int) int32 {
	return func(g *Generator) func(i int) int32 {
		return func(int) int32 { return g.online(cats[g.r.IntN(len(cats))]) }
	}
}

// inTurn draws the i-th purchase's shop from category cats[i].
func inTurn(cats ...string) func(g *Generator) func(i int) int32 {
	return func(g *Generator) func(i int) int32 {
		return func(i int) int32 { return g.online(cats[i]) }
	}
}

// proxy is where a card-not-present fraudster on card ci comes from: a residential
// proxy in the victim's city (to beat geolocation checks) on a device never used before.
func (g *Generator) proxy(ci int32) (city int16, dev uint64) {
	return g.cards[ci].city, g.newDevice()
}

// newDevice returns a device id never used before.
func (g *Generator) newDevice() uint64 {
	g.nextDevice++
	return g.nextDevice
}

// busy reports whether the victim is in the air (scenarios that need the genuine
// cardholder somewhere wait for another victim).
func busy(c *card, t int64) bool { return t < c.availableAt }

func (g *Generator) online(cat string) int32 { return g.merch.onlineOf(g.r, catIndex(cat)) }

// cardTesting: three to seven tiny online authorisations, seconds apart, half of them
// reversed, then a large online purchase (captured).
func (g *Generator) cardTesting(t int64, ci int32, label int8) bool {
	r, c := g.r, &g.cards[ci]
	city, dev := g.proxy(ci)
	probeAt := g.online("digital")
	for n := 3 + r.IntN(5); n > 0; n-- {
		amount := 1.0
		if r.Float64() < 0.5 {
			amount = uniform(r, 0.5, 1.99)
		}
		a := g.auth(t, ci, c, probeAt, amount, false, label)
		g.attacker(a, city, dev)
		if r.Float64() < 0.5 {
			g.follow(a, tReversal, t+between(r, 30, 120), a.amount, label)
		}
		t += between(r, 15, 90)
	}
	t += between(r, 30, 180)
	g.attackerBuy(t, ci, city, dev, g.online("electronics"), uniform(r, 200, 1500), label)
	return true
}

// velocityBurst: eight to twelve online purchases at one to three shops, 20–45 s apart,
// amounts 40–90 (so no ×1.5 ladder of four can form).
func (g *Generator) velocityBurst(t int64, ci int32, label int8) bool {
	return g.burst(t, ci, label, burst{8, 5, someOf(1, "clothing", "games", "misc"), 40, 90, 20, 45})
}

// impossibleTravel: the cardholder pays at home, then a counterfeit copy of the card is
// used in person one to five hours later in a city too far to have flown to.
func (g *Generator) impossibleTravel(t int64, ci int32, label int8) bool {
	if !g.payAtHome(t, ci, "grocery", 40, label) {
		return false
	}
	r, c := g.r, &g.cards[ci]
	hours := uniform(r, 1, 5)
	far := g.farCity(c.city, math.Max(2000, 1300*hours))
	t += int64(hours * 3600e3)
	g.presentBuy(t, ci, g.merch.localOf(r, int(far), catIndex("jewelry")), uniform(r, 300, 2000), label)
	return true
}

// accountTakeover: a password reset from the fraudster's device, a login, the device
// enrolled, a login from it, and a transfer of 1000–5000 out, within 25 minutes.
func (g *Generator) accountTakeover(t int64, ci int32, label int8) bool {
	r := g.r
	c := &g.cards[ci]
	city, dev := g.farCity(c.city, 1000), g.newDevice()
	step := func(typ evType, gapLo, gapHi float64) *ev {
		t += between(r, gapLo, gapHi)
		return g.attackerEv(t, ci, typ, chApp, city, dev, label)
	}
	step(tPasswordReset, 0, 1).channel = chWeb
	step(tLogin, 60, 180)
	step(tDeviceChange, 60, 300)
	step(tLogin, 10, 60)
	x := step(tTransfer, 120, 600)
	x.hasAmt, x.amount = true, cents(uniform(r, 1000, 5000))
	return true
}

// authNoCapture: an online authorisation at a bust-out merchant that is never captured
// nor reversed.
func (g *Generator) authNoCapture(t int64, ci int32, label int8) bool {
	c := &g.cards[ci]
	g.auth(t, ci, c, g.online("misc"), uniform(g.r, 50, 900), false, label)
	return true
}

// refundExceedsPurchase: a purchase, then one or two refunds of it (same auth_id) worth
// 1.2–2 times what was captured, within two days.
func (g *Generator) refundExceedsPurchase(t int64, ci int32, label int8) bool {
	r := g.r
	c := &g.cards[ci]
	a := g.auth(t, ci, c, g.online("clothing"), uniform(r, 40, 400), false, label)
	capt := g.follow(a, tCapture, t+between(r, 60, 1800), a.amount, label)
	total := a.amount * uniform(r, 1.2, 2)
	at := capt.ts
	if r.Float64() < 0.5 {
		first := cents(total * uniform(r, 0.3, 0.5))
		at += between(r, 3600, 86400)
		g.follow(a, tRefund, at, first, label)
		total -= first
	}
	g.follow(a, tRefund, at+between(r, 3600, 86400), cents(total), label)
	return true
}

// refundSpree: three or four refunds at different shops within a day, for purchases the
// card never made.
func (g *Generator) refundSpree(t int64, ci int32, label int8) bool {
	r := g.r
	for i, n := 0, 3+r.IntN(2); i < n; i++ {
		m := g.online([]string{"clothing", "electronics", "home", "misc"}[i])
		g.nextAuth++
		fake := &ev{merchant: m, authID: g.nextAuth, card: ci, ts: t}
		g.follow(fake, tRefund, t, cents(uniform(r, 50, 300)), label)
		t += between(r, 1800, 6*3600)
	}
	return true
}

// highRiskBurst: three or four online authorisations of 200–450 at gambling, crypto,
// money-transfer and gift-card merchants, 3–15 minutes apart.
func (g *Generator) highRiskBurst(t int64, ci int32, label int8) bool {
	return g.burst(t, ci, label, burst{3, 2, anyOf("gambling", "crypto", "money_transfer", "stored_value"), 200, 450, 180, 900})
}

// atmCashout: a cloned card emptied at three to six ATMs of the victim's city, 2–5
// minutes apart, 200–500 each.
func (g *Generator) atmCashout(t int64, ci int32, label int8) bool {
	r := g.r
	c := &g.cards[ci]
	if busy(c, t) {
		return false
	}
	for n := 3 + r.IntN(4); n > 0; n-- {
		g.auth(t, ci, c, g.merch.atmIn(r, int(c.city)), float64(20*(10+r.IntN(16))), true, label).geo = true
		t += between(r, 120, 300)
	}
	return true
}

// cpThenDistantCNP: the cardholder pays in person; 5–50 minutes later the copied card
// details buy 100–900 online from an address at least 2500 km away.
func (g *Generator) cpThenDistantCNP(t int64, ci int32, label int8) bool {
	if !g.payAtHome(t, ci, "restaurant", 35, label) {
		return false
	}
	r, c := g.r, &g.cards[ci]
	t += between(r, 300, 3000)
	a := g.auth(t, ci, c, g.online("electronics"), uniform(r, 100, 900), false, label)
	g.attacker(a, g.farCity(c.city, 2500), g.newDevice())
	g.settle(a, label)
	return true
}

// manyMerchants: five or six online purchases of 40–110 at different shops, 20–50 s
// apart.
func (g *Generator) manyMerchants(t int64, ci int32, label int8) bool {
	return g.burst(t, ci, label, burst{5, 2, inTurn("clothing", "electronics", "books", "games", "misc", "home"), 40, 110, 20, 50})
}

// muleTransfers: three or four times, a login straight followed by a round transfer of
// 500–3000, 30–100 minutes apart.
func (g *Generator) muleTransfers(t int64, ci int32, label int8) bool {
	r := g.r
	c := &g.cards[ci]
	for n := 3 + r.IntN(2); n > 0; n-- {
		g.session(t, ci, c, tLogin, c.device, label)
		x := g.session(t+between(r, 20, 90), ci, c, tTransfer, c.device, label)
		x.hasAmt, x.amount = true, float64(100*(5+r.IntN(26)))
		t += between(r, 1800, 6000)
	}
	return true
}

// risingAmounts: four or five online purchases at one shop, starting at 20–60 and each
// 1.6–2.2 times the last, 3–12 minutes apart.
func (g *Generator) risingAmounts(t int64, ci int32, label int8) bool {
	r := g.r
	city, dev := g.proxy(ci)
	shop := g.online("electronics")
	amount := uniform(r, 20, 60)
	for n := 4 + r.IntN(2); n > 0; n-- {
		a := g.attackerBuy(t, ci, city, dev, shop, amount, label)
		amount = a.amount * uniform(r, 1.6, 2.2)
		t += between(r, 180, 720)
	}
	return true
}

// deviceCashout: a device enrolled with no login after it, then (three times in four)
// a transfer of 500–4000 from it 1–15 minutes later.
func (g *Generator) deviceCashout(t int64, ci int32, label int8) bool {
	r := g.r
	c := &g.cards[ci]
	city, dev := g.farCity(c.city, 500), g.newDevice()
	g.attackerEv(t, ci, tDeviceChange, chApp, city, dev, label)
	if r.Float64() < 0.75 {
		x := g.attackerEv(t+between(r, 60, 900), ci, tTransfer, chApp, city, dev, label)
		x.hasAmt, x.amount = true, cents(uniform(r, 500, 4000))
	}
	return true
}

// splitTransactions: three or four purchases of 450–499.99 at one shop, 3–8 minutes
// apart.
func (g *Generator) splitTransactions(t int64, ci int32, label int8) bool {
	r := g.r
	g.repeatAt(t, ci, g.online("jewelry"), 3+r.IntN(2), func() float64 { return uniform(r, 450, 499.99) }, 180, 480, label)
	return true
}

// credentialStuffing: four to eight logins from different addresses 30–150 s apart,
// then a password reset.
func (g *Generator) credentialStuffing(t int64, ci int32, label int8) bool {
	r := g.r
	c := &g.cards[ci]
	dev := g.newDevice()
	for n := 4 + r.IntN(5); n > 0; n-- {
		g.attackerEv(t, ci, tLogin, chWeb, g.farCity(c.city, 0), dev, label)
		t += between(r, 30, 150)
	}
	g.attackerEv(t+between(r, 30, 120), ci, tPasswordReset, chWeb, g.farCity(c.city, 0), dev, label)
	return true
}

// overCapture: an authorisation of 20–200 captured at 1.4–3 times its amount.
func (g *Generator) overCapture(t int64, ci int32, label int8) bool {
	r := g.r
	c := &g.cards[ci]
	a := g.auth(t, ci, c, g.online("misc"), uniform(r, 20, 200), false, label)
	g.follow(a, tCapture, t+between(r, 300, 3600), cents(a.amount*uniform(r, 1.4, 3)), label)
	return true
}

// deviceManyCards: one fraudster's device tries stolen card details: online
// authorisations of 15–80 on four to six different cards, 30–150 s apart, at one
// electronics shop, each through a residential proxy in its cardholder's city. Each card
// sees one ordinary purchase; only a rule keyed by device_id sees the pattern.
func (g *Generator) deviceManyCards(t int64, ci int32, label int8) bool {
	r := g.r
	dev := g.newDevice()
	shop := g.online("electronics")
	victims := []int32{ci}
	for n := 4 + r.IntN(3); len(victims) < n; {
		if v := int32(r.IntN(len(g.cards))); !slices.Contains(victims, v) {
			victims = append(victims, v)
		}
	}
	for _, v := range victims {
		g.attackerBuy(t, v, g.cards[v].city, dev, shop, uniform(r, 15, 80), label)
		t += between(r, 30, 150)
	}
	return true
}

// watchlistMerchant: an online authorisation at a ring merchant the risk table rates
// high, then, 5–90 minutes later, one or two at watched ring merchants (testdata/fraud
// data), from the attacker's device.
func (g *Generator) watchlistMerchant(t int64, ci int32, label int8) bool {
	r := g.r
	city, dev := g.proxy(ci)
	risky := g.merch.ring[r.IntN(ringRisky)]
	g.attackerBuy(t, ci, city, dev, risky, uniform(r, 150, 600), label)
	for n := 1 + r.IntN(2); n > 0; n-- {
		t += between(r, 300, 5400)
		w := g.merch.ring[ringRisky+r.IntN(ringWatched)]
		g.attackerBuy(t, ci, city, dev, w, uniform(r, 40, 300), label)
	}
	return true
}

// authsPerHour: thirteen to sixteen online purchases of 15–60 at two or three shops,
// two to four minutes apart: too slow for a burst rule, too many for an hour (a ×1.5
// ladder of four cannot form below 67.50).
func (g *Generator) authsPerHour(t int64, ci int32, label int8) bool {
	return g.burst(t, ci, label, burst{13, 4, someOf(2, "clothing", "misc", "home"), 15, 60, 120, 240})
}

// merchantRepeat: a merchant charges the card the same amount (5–30) five to seven
// times, two to five minutes apart (a compromised merchant account or a billing loop).
func (g *Generator) merchantRepeat(t int64, ci int32, label int8) bool {
	r := g.r
	shop := g.online("books")
	amount := cents(uniform(r, 5, 30))
	g.repeatAt(t, ci, shop, 5+r.IntN(3), func() float64 { return amount }, 120, 300, label)
	return true
}

// onlineSpend24h: a stolen card used online six to eight times for 350–650 at
// different shops, one to three hours apart: no burst, but far more than a day's spend.
func (g *Generator) onlineSpend24h(t int64, ci int32, label int8) bool {
	return g.burst(t, ci, label, burst{6, 3, inTurn("electronics", "clothing", "home", "hotel", "misc", "books", "airline", "jewelry"), 350, 650, 3600, 3 * 3600})
}
