package kafkaconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/IBM/sarama"
)

// Conn is how to connect to a Kafka cluster.
type Conn struct {
	Brokers  []string
	ClientID string
	// Version is the Kafka protocol version to speak ("2.8.0"); 0.11.0 or later.
	Version string
	// TLS turns TLS on; so does naming a CA or a client certificate.
	TLS bool
	// TLSCA is a PEM file of the CA certificates that sign the brokers' (empty: the
	// system roots); TLSCert and TLSKey a client certificate for mutual TLS.
	TLSCA, TLSCert, TLSKey string
	// TLSServerName is the name the brokers' certificates are verified against (empty:
	// the broker host); TLSInsecure skips the verification (tests only).
	TLSServerName string
	TLSInsecure   bool
	// SASLMechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (any case; empty: no SASL).
	SASLMechanism, SASLUser, SASLPassword string
}

// Sarama returns the connection part of a sarama configuration; callers add their
// producer or consumer settings to it.
func (c Conn) Sarama() (*sarama.Config, error) {
	if len(c.Brokers) == 0 {
		return nil, errors.New("kafka: no brokers")
	}
	sc := sarama.NewConfig()
	v, err := sarama.ParseKafkaVersion(c.Version)
	if err != nil {
		return nil, fmt.Errorf("kafka version: %w", err)
	}
	if !v.IsAtLeast(sarama.V0_11_0_0) {
		return nil, fmt.Errorf("kafka version %s: cepd needs 0.11.0 or later (idempotent producer, headers)", c.Version)
	}
	sc.Version = v
	sc.ClientID = c.ClientID
	if c.TLS || c.TLSCA != "" || c.TLSCert != "" {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		sc.Net.TLS.Enable = true
		sc.Net.TLS.Config = tc
	}
	if c.SASLMechanism != "" {
		if err := c.sasl(sc); err != nil {
			return nil, err
		}
	}
	return sc, nil
}

func (c Conn) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName, InsecureSkipVerify: c.TLSInsecure} // #nosec G402 -- opt-in setting for tests
	if c.TLSCA != "" {
		pem, err := os.ReadFile(c.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("kafka TLS CA: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka TLS CA %s: no PEM certificate in it", c.TLSCA)
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return nil, errors.New("kafka TLS: a client certificate and its key go together")
	}
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("kafka TLS client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func (c Conn) sasl(sc *sarama.Config) error {
	if c.SASLUser == "" {
		return errors.New("kafka SASL: a mechanism needs a user")
	}
	sc.Net.SASL.Enable = true
	sc.Net.SASL.User = c.SASLUser
	sc.Net.SASL.Password = c.SASLPassword
	sc.Net.SASL.Handshake = true
	switch m := strings.ToUpper(c.SASLMechanism); m {
	case sarama.SASLTypePlaintext:
		sc.Net.SASL.Mechanism = sarama.SASLTypePlaintext
	case sarama.SASLTypeSCRAMSHA256, sarama.SASLTypeSCRAMSHA512:
		sc.Net.SASL.Mechanism = sarama.SASLMechanism(m)
		sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return NewSCRAMClient(m) }
	default:
		return fmt.Errorf("kafka SASL mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLMechanism)
	}
	return nil
}
