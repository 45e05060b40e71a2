package devkafka

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cepd/cepd/internal/defaults"
)

// Options configure a development cluster. The zero value is one broker on a random
// loopback port with 6 partitions per auto-created topic.
type Options struct {
	// Port is the first broker's port; broker i listens on Port+i. 0 picks free ports.
	Port int
	// Brokers is the number of brokers (default 1).
	Brokers int
	// Partitions is the partition count of auto-created and seeded topics (default 6).
	Partitions int
	// Topics are created at start (with Partitions partitions) unless DataDir already
	// holds the cluster's state.
	Topics []string
	// DataDir, when set, keeps the cluster's logs, groups and committed offsets on disk,
	// so a cluster started again with the same DataDir continues where the last stopped.
	DataDir string
	// MinSessionTimeout is the shortest consumer-group session timeout the cluster
	// accepts (default 1s: tests use short sessions to fail over quickly).
	MinSessionTimeout time.Duration
	// SASL users (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512); when any is given, the cluster
	// requires SASL authentication.
	Users []User
	// TLS, when set, makes the brokers accept only TLS connections.
	TLS *tls.Config
	// Log receives the broker's log at warn level and above (nil: no log).
	Log io.Writer
}

// User is a SASL account of the cluster.
type User struct {
	Mechanism, Name, Password string
}

// Cluster is a running kfake cluster. Stop it with Close.
type Cluster struct {
	kf    *kfake.Cluster
	addrs []string
	guard *staleGuard
}

// Start starts a cluster on 127.0.0.1.
func Start(o Options) (*Cluster, error) {
	defaults.Positive(&o.Brokers, 1)
	defaults.Positive(&o.Partitions, 6)
	defaults.Positive(&o.MinSessionTimeout, time.Second)
	opts := []kfake.Opt{
		kfake.NumBrokers(o.Brokers),
		kfake.DefaultNumPartitions(o.Partitions),
		kfake.AllowAutoTopicCreation(),
		kfake.GroupMinSessionTimeout(o.MinSessionTimeout),
		kfake.ClusterID("cepd-devkafka"),
		// kfake listens on 127.0.0.1 already; say so explicitly, so that a change
		// upstream cannot widen it.
		kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return net.Listen(network, net.JoinHostPort("127.0.0.1", port))
		}),
	}
	if o.Port > 0 {
		ports := make([]int, o.Brokers)
		for i := range ports {
			ports[i] = o.Port + i
		}
		opts = append(opts, kfake.Ports(ports...))
	}
	if len(o.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(o.Partitions), o.Topics...))
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	if len(o.Users) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range o.Users {
			switch u.Mechanism {
			case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
			default:
				return nil, fmt.Errorf("devkafka: SASL mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", u.Mechanism)
			}
			opts = append(opts, kfake.Superuser(u.Mechanism, u.Name, u.Password))
		}
	}
	if o.TLS != nil {
		opts = append(opts, kfake.TLS(o.TLS))
	}
	if o.Log != nil {
		opts = append(opts, kfake.WithLogger(kfake.BasicLogger(o.Log, kfake.LogLevelWarn)))
	}
	kf, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("devkafka: %w", err)
	}
	addrs := kf.ListenAddrs()
	return &Cluster{kf: kf, addrs: addrs, guard: startStaleGuard(kf, addrs[0], guardConfig(o, addrs[0]), o.Log)}, nil
}

// Addrs returns the brokers' host:port addresses.
func (c *Cluster) Addrs() []string { return append([]string(nil), c.addrs...) }

// Addr returns the first broker's address (enough to bootstrap a client).
func (c *Cluster) Addr() string { return c.addrs[0] }

// Port returns the first broker's port, for starting a cluster again on it.
func (c *Cluster) Port() int {
	_, p, _ := net.SplitHostPort(c.addrs[0])
	n, _ := strconv.Atoi(p)
	return n
}

// Kfake returns the underlying cluster, for fault injection (Fault, ControlKey).
func (c *Cluster) Kfake() *kfake.Cluster { return c.kf }

// Close stops the cluster; with a DataDir its state is saved first. Clients connected to
// it see their connections close.
func (c *Cluster) Close() {
	c.guard.close()
	c.kf.Close()
}

// TB is the part of testing.TB that ForTest needs.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// ForTest starts a cluster for a test and stops it when the test ends.
func ForTest(tb TB, o Options) *Cluster {
	tb.Helper()
	c, err := Start(o)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(c.Close)
	return c
}

// StartAgain starts a cluster on the port a closed one used (for broker-restart tests),
// retrying while the port is still being released.
func StartAgain(o Options, port int, timeout time.Duration) (*Cluster, error) {
	o.Port = port
	deadline := time.Now().Add(timeout)
	for {
		c, err := Start(o)
		if err == nil {
			return c, nil
		}
		var op *net.OpError
		if !errors.As(err, &op) || time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
