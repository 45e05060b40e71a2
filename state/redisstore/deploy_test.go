package redisstore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cepd/cepd/internal/redistest"
	"github.com/cepd/cepd/state"
)

// TestSentinel runs the suite through New with a Sentinel address and a master name,
// each subtest with its own client (closed by the store's Close).
func TestSentinel(t *testing.T) {
	master := startRedis(t)
	sentinel := redistest.StartSentinel(t, master.Addr, "cepdmaster")
	n := 0
	conformance := func(t *testing.T) state.Store {
		n++
		s, err := New(Options{Addrs: []string{sentinel.Addr}, MasterName: "cepdmaster", Prefix: fmt.Sprint("sentinel-", n)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	runSuite(t, conformance)
	if keys := client(t, master.Addr).Keys(ctx, "{cepd:sentinel-*").Val(); len(keys) == 0 {
		t.Fatal("nothing written to the master behind the Sentinel")
	}
}

// TestTLSAndACL: a server reachable only over TLS, with the default user disabled and an
// ACL user; the store connects with a TLS config and username/password, and a wrong
// password fails clearly.
func TestTLSAndACL(t *testing.T) {
	dir := t.TempDir()
	caPEM := writeTLSFiles(t, dir)
	tlsPort := redistest.FreePort(t)
	startRedis(t, "--tls-port", strconv.Itoa(tlsPort),
		"--tls-cert-file", filepath.Join(dir, "server.crt"), "--tls-key-file", filepath.Join(dir, "server.key"),
		"--tls-ca-cert-file", filepath.Join(dir, "ca.crt"), "--tls-auth-clients", "no",
		"--user", "default", "off", "--user", "cepd", "on", ">s3cret", "~*", "&*", "+@all")
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	tlsConf := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	addr := fmt.Sprintf("127.0.0.1:%d", tlsPort)

	s, err := New(Options{Addrs: []string{addr}, TLS: tlsConf, Username: "cepd", Password: "s3cret", Prefix: "tls"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cp := bigCheckpoint(0, 1, 2000, 300) // staged
	if err := s.Save(ctx, cp); err != nil {
		t.Fatalf("Save over TLS: %v", err)
	}
	if got, meta := loadAll(t, s, 0); len(got) != 2000 || !meta.Found {
		t.Fatalf("Load over TLS: %d keys, meta %+v", len(got), meta)
	}

	bad, err := New(Options{Addrs: []string{addr}, TLS: tlsConf, Username: "cepd", Password: "wrong", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := bad.Claim(ctx, 0, 0); err == nil {
		t.Fatal("Claim with a wrong password succeeded")
	} else {
		t.Logf("wrong password: %v", err)
	}
	plain, err := New(Options{Addrs: []string{addr}, Username: "cepd", Password: "s3cret", MaxRetries: -1, ReadTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.Save(ctx, cp); err == nil || errors.Is(err, state.ErrFenced) {
		t.Fatalf("plain-text Save to a TLS port: %v", err)
	}
}

// writeTLSFiles writes a CA and a server certificate for 127.0.0.1 into dir and returns
// the CA certificate (PEM).
func writeTLSFiles(t *testing.T, dir string) []byte {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cepd test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	for name, data := range map[string][]byte{
		"ca.crt":     caPEM,
		"server.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"server.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return caPEM
}
