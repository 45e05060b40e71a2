package workload

import "math"

// Genuine behaviour: what cardholders do when nobody is stealing from them.

// genuine builds one genuine activity of card ci at time t.
func (g *Generator) genuine(t int64, ci int32, c *card) {
	r := g.r
	if c.returnAt != 0 && t >= c.returnAt {
		// The trip is over: fly home; nothing happens on the way.
		c.availableAt = t + flightMs(int(c.city), int(c.home))
		c.city, c.returnAt = c.home, 0
		return
	}
	if t < c.availableAt {
		return // in the air
	}
	u := r.Float64()
	switch {
	case u < 0.77:
		g.purchase(t, ci, c)
	case u < 0.83:
		g.withdrawal(t, ci, c)
	case u < 0.985:
		g.login(t, ci, c, r.Float64() < 0.25)
	case u < 0.99:
		g.passwordReset(t, ci, c)
	case u < 0.995:
		g.deviceChange(t, ci, c)
	default:
		if c.returnAt == 0 {
			g.travel(t, c)
		}
	}
}

// travel sends the cardholder on a trip: in the air for the flight, away for one to six
// days.
func (g *Generator) travel(t int64, c *card) {
	r := g.r
	dest := int16(r.IntN(len(cities)))
	if dest == c.city {
		return
	}
	c.availableAt = t + flightMs(int(c.city), int(dest))
	c.returnAt = c.availableAt + between(r, 86400, 6*86400)
	c.city = dest
}

// geoAround sets e's place to city ci (the centre plus a few km of noise).
func (g *Generator) geoAround(e *ev, ci int16) {
	e.city = ci
	e.geo = true
	e.lat = cities[ci].lat + g.r.NormFloat64()*0.04
	e.lon = cities[ci].lon + g.r.NormFloat64()*0.04
}

// atMerchant sets e's merchant and, for a merchant with a place, its city and position.
func (g *Generator) atMerchant(e *ev, m int32) {
	e.merchant = m
	mc := &g.merch.all[m]
	if mc.city >= 0 {
		e.city = int16(mc.city)
		e.geo = true
		e.lat, e.lon = mc.lat, mc.lon
	}
}

// auth builds an authorisation of amount at merchant m: card present at the merchant's
// place, or online from the card's device and address (geolocated where the card is).
func (g *Generator) auth(t int64, ci int32, c *card, m int32, amount float64, present bool, label int8) *ev {
	e := g.newEv(t, ci, tAuth, label)
	e.hasAmt, e.amount = true, cents(amount)
	g.nextAuth++
	e.authID = g.nextAuth
	if present {
		g.atMerchant(e, m)
		e.cp, e.channel = 1, chPOS
		if g.merch.all[m].cat == g.merch.atmCat {
			e.channel = chATM
		}
		if g.r.Float64() < 0.002 {
			e.geo = false // a terminal that sends no position
		}
		return e
	}
	e.merchant = m
	e.cp, e.channel = 0, chEcom
	e.device, e.ip = c.device, c.ip()
	city := c.city
	if g.r.Float64() < 0.003 {
		city = int16(g.r.IntN(len(cities))) // a VPN exit somewhere else
	}
	g.geoAround(e, city)
	return e
}

// settle builds what follows an authorisation: a capture (usually within minutes, with a
// tip at restaurants and taxis) or a reversal, and sometimes a refund days later.
func (g *Generator) settle(a *ev, label int8) {
	r := g.r
	if r.Float64() < 0.03 {
		g.follow(a, tReversal, a.ts+between(r, 60, 1800), a.amount, label)
		return
	}
	delay := math.Min(r.ExpFloat64()*600, 3300) + 30
	amount := a.amount
	if cat := g.merch.cat(a.merchant); (cat.name == "restaurant" || cat.name == "taxi") && r.Float64() < 0.5 {
		amount = cents(amount * uniform(r, 1.05, 1.20))
	}
	capt := g.follow(a, tCapture, a.ts+int64(delay*1000), amount, label)
	if label < 0 && r.Float64() < 0.015 {
		refund := amount
		if r.Float64() < 0.3 {
			refund = cents(amount * uniform(r, 0.2, 0.8))
		}
		g.follow(a, tRefund, capt.ts+between(r, 3600, 2*86400), refund, label)
	}
}

// follow builds a capture, reversal or refund of authorisation a.
func (g *Generator) follow(a *ev, typ evType, ts int64, amount float64, label int8) *ev {
	e := g.newEv(ts, a.card, typ, label)
	e.hasAmt, e.amount = true, amount
	e.merchant, e.authID = a.merchant, a.authID
	if mc := &g.merch.all[a.merchant]; mc.city >= 0 {
		e.city = int16(mc.city)
	}
	return e
}

// purchase is a genuine purchase: a category by the usual mix, card present in the
// card's city or online, a log-normal amount, then settlement.
func (g *Generator) purchase(t int64, ci int32, c *card) {
	r := g.r
	cat := pick(r, g.catW)
	k := &categories[cat]
	present := r.Float64() < k.cpShare*(1.1-0.4*c.online)
	var m int32
	if present {
		m = g.merch.localOf(r, int(c.city), cat)
	} else {
		m = g.merch.onlineOf(r, cat)
	}
	amount := math.Max(0.5, logNormal(r, k.median*c.spend, k.sigma))
	a := g.auth(t, ci, c, m, amount, present, -1)
	g.settle(a, -1)
}

// withdrawal is a genuine ATM withdrawal: a round amount, settled in the same message.
func (g *Generator) withdrawal(t int64, ci int32, c *card) {
	m := g.merch.atmIn(g.r, int(c.city))
	g.auth(t, ci, c, m, float64(20*(1+g.r.IntN(15))), true, -1)
}

// session builds an online-banking event from the card's device where the card is.
func (g *Generator) session(t int64, ci int32, c *card, typ evType, device uint64, label int8) *ev {
	e := g.newEv(t, ci, typ, label)
	e.channel = chApp
	if g.r.Float64() < 0.3 {
		e.channel = chWeb
	}
	e.device, e.ip = device, c.ip()
	g.geoAround(e, c.city)
	return e
}

// login is a genuine login, sometimes followed by a transfer.
func (g *Generator) login(t int64, ci int32, c *card, transfer bool) {
	l := g.session(t, ci, c, tLogin, c.device, -1)
	if !transfer {
		return
	}
	x := g.session(t+between(g.r, 30, 300), ci, c, tTransfer, c.device, -1)
	x.channel = l.channel
	amount := logNormal(g.r, 150, 1.0)
	if g.r.Float64() < 0.06 {
		amount = math.Max(100, math.Round(amount/100)*100)
	}
	x.hasAmt, x.amount = true, cents(amount)
}

// passwordReset is a genuine reset, followed by a login with the new password.
func (g *Generator) passwordReset(t int64, ci int32, c *card) {
	e := g.session(t, ci, c, tPasswordReset, c.device, -1)
	e.channel = chWeb
	g.session(t+between(g.r, 60, 600), ci, c, tLogin, c.device, -1)
}

// deviceChange is a genuine new phone: enrolled, then logged in from at once.
func (g *Generator) deviceChange(t int64, ci int32, c *card) {
	g.nextDevice++
	c.device = g.nextDevice
	g.session(t, ci, c, tDeviceChange, c.device, -1)
	g.session(t+between(g.r, 10, 60), ci, c, tLogin, c.device, -1)
}
