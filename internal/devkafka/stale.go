package devkafka

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cepd/cepd/internal/kafkaconf"
)

// The stale-member guard. kfake starts a classic group member's session timer when the
// answer to its JoinGroup (or SyncGroup, or Heartbeat) reaches it. A member whose
// connection died while its join waited for the rebalance (a process killed mid-join)
// never gets that answer, so it gets no timer; once the live leader has synced, nothing
// removes it, and the partitions the leader assigned it stay unread for ever. A real
// broker expires such a member after its session timeout.
//
// The guard does what the broker should: it notes every request that names a member,
// and every half second asks kfake about the groups of members silent for longer than
// their session timeout (and a second). It acts only in a stable group, stable (at the
// same generation) for longer than the member's session timeout as well: while a group
// rebalances, a live member's join may wait far longer than its
// own timeouts say (another member's rebalance timeout governs the wait, and each new
// join restarts kfake's timer), and kfake's own rebalance and sync timers remove a
// member that does not answer; once the group is stable, every live member heartbeats
// within its session timeout, so a member silent that long is one kfake would expire
// itself had it started its timer. Such a member is sent a LeaveGroup, as its own client
// would on a clean shutdown (TestMemberParkedInJoinStays).

// staleCheckEvery is how often the guard looks for silent members.
const staleCheckEvery = 500 * time.Millisecond

type memberKey struct{ group, member string }

// memberSeen is when the guard last saw a request of a member, and the session timeout
// its join asked for.
type memberSeen struct {
	at      time.Time
	session time.Duration
}

// stableSince is when the guard first saw a group stable at a generation.
type stableSince struct {
	generation int32
	at         time.Time
}

type staleGuard struct {
	kf   *kfake.Cluster
	conf func() (*sarama.Config, error) // a client configuration for the cluster's own address
	addr string
	log  io.Writer

	mu   sync.Mutex
	seen map[memberKey]memberSeen

	stable map[string]stableSince // by group; only the loop uses it

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// startStaleGuard installs the guard's request observer on kf and starts its loop;
// close stops it.
func startStaleGuard(kf *kfake.Cluster, addr string, conf func() (*sarama.Config, error), log io.Writer) *staleGuard {
	g := &staleGuard{kf: kf, conf: conf, addr: addr, log: log, seen: map[memberKey]memberSeen{},
		stable: map[string]stableSince{}, stop: make(chan struct{}), done: make(chan struct{})}
	kf.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		g.observe(req, time.Now())
		return nil, nil, false // observe only: kfake handles the request
	})
	go g.loop()
	return g
}

// observe notes a request that names a group member.
func (g *staleGuard) observe(req kmsg.Request, now time.Time) {
	var group, member string
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		if r.MemberID == "" {
			return // the member id comes in the answer; its next join names it
		}
		g.mu.Lock()
		g.seen[memberKey{r.Group, r.MemberID}] = memberSeen{at: now, session: time.Duration(r.SessionTimeoutMillis) * time.Millisecond}
		g.mu.Unlock()
		return
	case *kmsg.LeaveGroupRequest:
		g.mu.Lock()
		delete(g.seen, memberKey{r.Group, r.MemberID})
		for _, m := range r.Members {
			delete(g.seen, memberKey{r.Group, m.MemberID})
		}
		g.mu.Unlock()
		return
	case *kmsg.SyncGroupRequest:
		group, member = r.Group, r.MemberID
	case *kmsg.HeartbeatRequest:
		group, member = r.Group, r.MemberID
	case *kmsg.OffsetCommitRequest:
		group, member = r.Group, r.MemberID
	case *kmsg.TxnOffsetCommitRequest:
		group, member = r.Group, r.MemberID
	default:
		return
	}
	k := memberKey{group, member}
	g.mu.Lock()
	if s, ok := g.seen[k]; ok { // members whose join the guard never saw are kfake's alone
		s.at = now
		g.seen[k] = s
	}
	g.mu.Unlock()
}

// silent returns the members silent past their limits at now, with their session
// timeouts.
func (g *staleGuard) silent(now time.Time) map[memberKey]time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[memberKey]time.Duration{}
	for k, s := range g.seen {
		if now.Sub(s.at) > s.session+time.Second {
			out[k] = s.session
		}
	}
	return out
}

// forget stops watching a member.
func (g *staleGuard) forget(k memberKey) {
	g.mu.Lock()
	delete(g.seen, k)
	g.mu.Unlock()
}

func (g *staleGuard) loop() {
	defer close(g.done)
	tick := time.NewTicker(staleCheckEvery)
	defer tick.Stop()
	var client sarama.Client
	defer func() {
		if client != nil {
			_ = client.Close()
		}
	}()
	for {
		select {
		case <-g.stop:
			return
		case <-tick.C:
		}
		now := time.Now()
		for k, session := range g.silent(now) {
			switch g.check(k, session, now) {
			case memberGone:
				g.forget(k) // kfake removed it itself
				continue
			case memberWait:
				continue
			}
			g.forget(k)
			if client == nil {
				var err error
				if client, err = g.client(); err != nil {
					g.logf("devkafka: cannot remove the silent member %s of group %s: %v", k.member, k.group, err)
					continue
				}
			}
			if err := leave(client, k); err != nil {
				g.logf("devkafka: removing the silent member %s of group %s: %v", k.member, k.group, err)
				continue
			}
			g.logf("devkafka: removed the member %s of group %s: silent past its session timeout, which kfake never started", k.member, k.group)
		}
	}
}

// What the guard does with a silent member.
const (
	memberGone   = iota // no longer in its group
	memberWait          // its group rebalances, or has not been stable for a session timeout yet
	memberRemove        // silent in a group stable for longer than its session timeout
)

// check tells what to do with silent member k (session timeout session) at now.
func (g *staleGuard) check(k memberKey, session time.Duration, now time.Time) int {
	info := g.kf.GroupInfo(k.group)
	if info == nil {
		delete(g.stable, k.group)
		return memberGone
	}
	if !slices.ContainsFunc(info.Members, func(m kfake.GroupMember) bool { return m.MemberID == k.member }) {
		return memberGone
	}
	if info.State != "Stable" { // kfake's name for the state (another name: the guard never acts)
		delete(g.stable, k.group)
		return memberWait
	}
	st, ok := g.stable[k.group]
	if !ok || st.generation != info.Epoch {
		g.stable[k.group] = stableSince{generation: info.Epoch, at: now}
		return memberWait
	}
	if now.Sub(st.at) <= session+time.Second {
		return memberWait
	}
	return memberRemove
}

func (g *staleGuard) client() (sarama.Client, error) {
	conf, err := g.conf()
	if err != nil {
		return nil, err
	}
	return sarama.NewClient([]string{g.addr}, conf)
}

// leave sends the group's coordinator a LeaveGroup for the member.
func leave(client sarama.Client, k memberKey) error {
	if err := client.RefreshCoordinator(k.group); err != nil {
		return err
	}
	b, err := client.Coordinator(k.group)
	if err != nil {
		return err
	}
	resp, err := b.LeaveGroup(&sarama.LeaveGroupRequest{Version: 3, GroupId: k.group,
		Members: []sarama.MemberIdentity{{MemberId: k.member}}})
	if err != nil {
		return err
	}
	if resp.Err != sarama.ErrNoError {
		return resp.Err
	}
	for _, m := range resp.Members {
		if m.Err != sarama.ErrNoError && m.Err != sarama.ErrUnknownMemberId {
			return m.Err
		}
	}
	return nil
}

func (g *staleGuard) logf(format string, args ...any) {
	if g.log != nil {
		fmt.Fprintf(g.log, format+"\n", args...)
	}
}

// close stops the guard's loop; it may be called more than once.
func (g *staleGuard) close() {
	g.stopOnce.Do(func() { close(g.stop) })
	<-g.done
}

// guardConfig returns the sarama configuration the guard's client uses to reach the
// cluster: the first user's SASL credentials when the cluster requires SASL (every user
// of a devkafka cluster is a superuser), and over TLS a connection that accepts only the
// cluster's own certificate.
func guardConfig(o Options, addr string) func() (*sarama.Config, error) {
	return func() (*sarama.Config, error) {
		conn := kafkaconf.Conn{Brokers: []string{addr}, ClientID: "devkafka-stale-guard", Version: "2.8.0"}
		if len(o.Users) > 0 {
			u := o.Users[0]
			conn.SASLMechanism, conn.SASLUser, conn.SASLPassword = u.Mechanism, u.Name, u.Password
		}
		c, err := conn.Sarama()
		if err != nil {
			return nil, err
		}
		c.Net.DialTimeout, c.Net.ReadTimeout, c.Net.WriteTimeout = 5*time.Second, 5*time.Second, 5*time.Second
		if o.TLS != nil {
			own, err := ownCertificate(o.TLS)
			if err != nil {
				return nil, err
			}
			c.Net.TLS.Enable, c.Net.TLS.Config = true, own
		}
		return c, nil
	}
}

// ownCertificate returns a client TLS configuration that accepts exactly the server
// configuration's first certificate (the guard talks to its own cluster on loopback).
func ownCertificate(server *tls.Config) (*tls.Config, error) {
	if len(server.Certificates) == 0 || len(server.Certificates[0].Certificate) == 0 {
		return nil, errors.New("the TLS configuration holds no certificate")
	}
	want := server.Certificates[0].Certificate[0]
	return &tls.Config{
		InsecureSkipVerify: true, // verified below: the peer's leaf must be the cluster's own
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], want) {
				return errors.New("not the cluster's own certificate")
			}
			return nil
		},
	}, nil
}
