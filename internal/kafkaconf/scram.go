package kafkaconf

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/IBM/sarama"
)

// scramClient is sarama's SCRAM-SHA-256/512 exchange (RFC 5802, RFC 7677), written
// against the standard library so that SASL needs no further dependency.
type scramClient struct {
	h                  func() hash.Hash
	user, pass, authz  string
	nonce, clientFirst string
	serverSig          []byte
	step               int
	done               bool
}

// NewSCRAMClient returns a client of mechanism SCRAM-SHA-512, or else SCRAM-SHA-256.
func NewSCRAMClient(mechanism string) sarama.SCRAMClient {
	if mechanism == sarama.SASLTypeSCRAMSHA512 {
		return &scramClient{h: sha512.New}
	}
	return &scramClient{h: sha256.New}
}

// Begin starts an exchange (sarama.SCRAMClient).
func (c *scramClient) Begin(user, pass, authz string) error {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	esc := strings.NewReplacer("=", "=3D", ",", "=2C")
	c.user, c.pass, c.authz = esc.Replace(user), pass, esc.Replace(authz)
	c.nonce = base64.RawStdEncoding.EncodeToString(b)
	c.step, c.done = 0, false
	return nil
}

func (c *scramClient) gs2() string {
	if c.authz != "" {
		return "n,a=" + c.authz + ","
	}
	return "n,,"
}

func (c *scramClient) mac(key []byte, msg string) []byte {
	m := hmac.New(c.h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Step answers the server's message of this step (sarama.SCRAMClient).
func (c *scramClient) Step(challenge string) (string, error) {
	c.step++
	switch c.step {
	case 1:
		c.clientFirst = "n=" + c.user + ",r=" + c.nonce
		return c.gs2() + c.clientFirst, nil
	case 2:
		attrs := map[byte]string{}
		for _, kv := range strings.Split(challenge, ",") {
			if len(kv) >= 2 && kv[1] == '=' {
				attrs[kv[0]] = kv[2:]
			}
		}
		nonce, salt64, iter := attrs['r'], attrs['s'], attrs['i']
		if !strings.HasPrefix(nonce, c.nonce) || len(nonce) == len(c.nonce) {
			return "", errors.New("scram: server nonce does not extend ours")
		}
		salt, err := base64.StdEncoding.DecodeString(salt64)
		if err != nil {
			return "", fmt.Errorf("scram: salt: %w", err)
		}
		n, err := strconv.Atoi(iter)
		if err != nil || n < 1 {
			return "", fmt.Errorf("scram: iteration count %q", iter)
		}
		salted, err := pbkdf2.Key(c.h, c.pass, salt, n, c.h().Size())
		if err != nil {
			return "", err
		}
		clientKey := c.mac(salted, "Client Key")
		hs := c.h()
		hs.Write(clientKey)
		storedKey := hs.Sum(nil)
		final := "c=" + base64.StdEncoding.EncodeToString([]byte(c.gs2())) + ",r=" + nonce
		authMsg := c.clientFirst + "," + challenge + "," + final
		proof := c.mac(storedKey, authMsg)
		for i := range proof {
			proof[i] ^= clientKey[i]
		}
		c.serverSig = c.mac(c.mac(salted, "Server Key"), authMsg)
		return final + ",p=" + base64.StdEncoding.EncodeToString(proof), nil
	default:
		c.done = true
		if e, ok := strings.CutPrefix(challenge, "e="); ok {
			return "", fmt.Errorf("scram: server error %s", e)
		}
		v, ok := strings.CutPrefix(challenge, "v=")
		sig, err := base64.StdEncoding.DecodeString(v)
		if !ok || err != nil || !hmac.Equal(sig, c.serverSig) {
			return "", errors.New("scram: the server's signature does not verify")
		}
		return "", nil
	}
}

// Done reports whether the exchange has ended (sarama.SCRAMClient).
func (c *scramClient) Done() bool { return c.done }
