package agent

import "github.com/silt-io/silt/internal/scram"

// scramMechanisms maps KIP-554's mechanism numbers to the SCRAM
// mechanisms: 1 is SCRAM-SHA-256, 2 SCRAM-SHA-512.
var scramMechanisms = map[int8]scram.Mechanism{1: scram.SHA256, 2: scram.SHA512}

// scramMechanismCode is the KIP-554 number of a mechanism's name, 0 for
// one it does not know.
func scramMechanismCode(name string) int8 {
	for code, m := range scramMechanisms {
		if m.Name == name {
			return code
		}
	}
	return 0
}
