package kafkaconf

import (
	"testing"

	"github.com/IBM/sarama"
)

// TestSCRAMRFC7677 runs the SCRAM-SHA-256 exchange of RFC 7677 section 3 (its client
// nonce fixed) and checks every message, and that a wrong server signature is refused.
func TestSCRAMRFC7677(t *testing.T) {
	for _, forged := range []bool{false, true} {
		c := NewSCRAMClient(sarama.SASLTypeSCRAMSHA256).(*scramClient)
		if err := c.Begin("user", "pencil", ""); err != nil {
			t.Fatal(err)
		}
		c.nonce = "rOprNGfwEbeRWgbNEkqO"
		first, err := c.Step("")
		if err != nil || first != "n,,n=user,r=rOprNGfwEbeRWgbNEkqO" {
			t.Fatalf("client-first %q %v", first, err)
		}
		final, err := c.Step("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
		if want := "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="; err != nil || final != want {
			t.Fatalf("client-final %q %v, want %q", final, err, want)
		}
		sig := "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
		if forged {
			sig = "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
		}
		_, err = c.Step(sig)
		if (err != nil) != forged || !c.Done() {
			t.Errorf("server-final (forged %v): %v, done %v", forged, err, c.Done())
		}
	}
}

// TestConnSarama: the settings that are refused, and the ones that shape the config.
func TestConnSarama(t *testing.T) {
	for _, c := range []Conn{
		{},
		{Brokers: []string{"b:9092"}, Version: "0.10.2.0"},
		{Brokers: []string{"b:9092"}, Version: "2.8.0", TLSCert: "c.pem"},
		{Brokers: []string{"b:9092"}, Version: "2.8.0", SASLMechanism: "PLAIN"},
		{Brokers: []string{"b:9092"}, Version: "2.8.0", SASLMechanism: "GSSAPI", SASLUser: "u"},
	} {
		if _, err := c.Sarama(); err == nil {
			t.Errorf("%+v: accepted", c)
		}
	}
	sc, err := Conn{Brokers: []string{"b:9092"}, ClientID: "x", Version: "2.8.0", TLS: true, SASLMechanism: "scram-sha-512", SASLUser: "u", SASLPassword: "p"}.Sarama()
	if err != nil {
		t.Fatal(err)
	}
	if !sc.Net.TLS.Enable || sc.Net.SASL.Mechanism != sarama.SASLTypeSCRAMSHA512 || sc.ClientID != "x" || sc.Version != sarama.V2_8_0_0 {
		t.Errorf("config: tls %v sasl %v client %q version %v", sc.Net.TLS.Enable, sc.Net.SASL.Mechanism, sc.ClientID, sc.Version)
	}
}
