package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"

	"github.com/cepd/cepd/rules/store/redisrules"
	"github.com/cepd/cepd/state/redisstore"
)

type redisOptions struct {
	addrs              []string
	cluster            bool
	master             string
	username, password string
	prefix             string
	db                 int
	tls                bool
	tlsCA              string
	tlsSkipVerify      bool
}

func addRedisFlags(f *pflag.FlagSet, o *redisOptions) {
	f.StringSliceVar(&o.addrs, "redis-addr", nil, "checkpoint to Redis at HOST:PORT (several: cluster seeds, or Sentinels with --redis-master)")
	f.BoolVar(&o.cluster, "redis-cluster", false, "treat a single --redis-addr as a Redis Cluster seed")
	f.StringVar(&o.master, "redis-master", "", "Sentinel mode: the name of the master the --redis-addr Sentinels monitor")
	f.StringVar(&o.username, "redis-username", "", "Redis ACL user")
	f.StringVar(&o.password, "redis-password", "", "Redis password (default: $CEPD_REDIS_PASSWORD)")
	f.StringVar(&o.prefix, "redis-prefix", "cepd", "key prefix separating deployments that share a Redis")
	f.IntVar(&o.db, "redis-db", 0, "Redis database (standalone and Sentinel)")
	f.BoolVar(&o.tls, "redis-tls", false, "connect to Redis with TLS")
	f.StringVar(&o.tlsCA, "redis-tls-ca", "", "PEM file of the CA that signed Redis's certificate")
	f.BoolVar(&o.tlsSkipVerify, "redis-tls-insecure", false, "do not verify Redis's certificate (testing only)")
}

func (o *redisOptions) options() (redisstore.Options, error) {
	password := o.password
	if password == "" { // from the environment, never a flag default (--help prints those)
		password = os.Getenv("CEPD_REDIS_PASSWORD")
	}
	opts := redisstore.Options{Addrs: o.addrs, Cluster: o.cluster, MasterName: o.master,
		Username: o.username, Password: password, Prefix: o.prefix, DB: o.db}
	if o.tls || o.tlsCA != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.tlsSkipVerify} //nolint:gosec // opt-in for tests
		if o.tlsCA != "" {
			pem, err := os.ReadFile(o.tlsCA)
			if err != nil {
				return opts, err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return opts, fmt.Errorf("%s: no certificate found", o.tlsCA)
			}
			cfg.RootCAs = pool
		}
		opts.TLS = cfg
	}
	return opts, nil
}

// open returns the checkpoint store.
func (o *redisOptions) open() (*redisstore.Store, error) {
	opts, err := o.options()
	if err != nil {
		return nil, err
	}
	return redisstore.New(opts)
}

// openRules returns the shared rule store under {<prefix>:rules}, with its client (the
// caller closes it).
func (o *redisOptions) openRules(ctx context.Context) (*redisrules.Store, redis.UniversalClient, error) {
	opts, err := o.options()
	if err != nil {
		return nil, nil, err
	}
	opts.ClientName = "cepd-rules"
	c, err := redisstore.NewClient(opts)
	if err != nil {
		return nil, nil, err
	}
	st, err := redisrules.Open(ctx, c, redisrules.Options{Prefix: o.prefix + ":rules", Logger: slog.Default()})
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return st, c, nil
}
