package gossip

import (
	"hash/fnv"
)

// Owner returns the member that owns key by rendezvous (highest random
// weight) hashing: every agent with the same member list picks the same
// owner, and when a member leaves only the keys it owned move. ok is false
// if members is empty.
func Owner(members []Member, key string) (owner Member, ok bool) {
	var best uint64
	for _, m := range members {
		w := weight(m.Name, key)
		if !ok || w > best || (w == best && m.Name < owner.Name) {
			owner, best, ok = m, w, true
		}
	}
	return owner, ok
}

// InZone returns the members in zone, or all of them if none is: clients
// naming a zone are served by agents in it where there are any.
func InZone(members []Member, zone string) []Member {
	if zone == "" {
		return members
	}
	var out []Member
	for _, m := range members {
		if m.Zone == zone {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return members
	}
	return out
}

// weight is a 64-bit hash of member and key, mixed so that close inputs
// get unrelated weights.
func weight(member, key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(member))
	h.Write([]byte{0})
	h.Write([]byte(key))
	x := h.Sum64()
	// splitmix64 finaliser: FNV's low bits are weak for similar strings.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
