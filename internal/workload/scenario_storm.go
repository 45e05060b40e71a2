package workload

// zeroAuthStorm: a bot checking that a stolen card is live with zero-amount online
// authorisations (account verifications, which no capture follows): two to four bursts
// of three to five, seconds apart, at digital, game and other online shops, from one
// device and fresh addresses in the victim's city, the bursts 10 to 40 minutes apart.
func (g *Generator) zeroAuthStorm(t int64, ci int32, label int8) bool {
	r, c := g.r, &g.cards[ci]
	city, dev := g.proxy(ci)
	for bursts := 2 + r.IntN(3); bursts > 0; bursts-- {
		for n := 3 + r.IntN(3); n > 0; n-- {
			shop := g.online([]string{"digital", "games", "misc"}[r.IntN(3)])
			a := g.auth(t, ci, c, shop, 0.01, false, label)
			a.amount = 0 // a verification: auth never builds an amount below a cent
			g.attacker(a, city, dev)
			t += between(r, 5, 40)
		}
		t += between(r, 600, 2400)
	}
	return true
}
