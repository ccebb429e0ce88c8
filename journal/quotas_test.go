package journal

import (
	"maps"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestClientQuotas(t *testing.T) {
	user := QuotaEntity{{Type: "user", Name: "alice"}}
	both := QuotaEntity{{Type: "user", Name: "alice"}, {Type: "client-id", Default: true}}
	set := func(e QuotaEntity, vals map[string]float64, remove ...string) Command {
		return Command{SetClientQuota: &SetClientQuota{Entity: e, Set: vals, Remove: remove}}
	}
	for _, tc := range []struct {
		name     string
		cmds     []Command
		wantUser map[string]float64
		wantBoth map[string]float64
		codes    []int16
	}{
		{"set", []Command{set(user, map[string]float64{"producer_byte_rate": 1024})},
			map[string]float64{"producer_byte_rate": 1024}, nil, []int16{0}},
		{"set more and replace", []Command{
			set(user, map[string]float64{"producer_byte_rate": 1024}),
			set(user, map[string]float64{"producer_byte_rate": 2048, "consumer_byte_rate": 10})},
			map[string]float64{"producer_byte_rate": 2048, "consumer_byte_rate": 10}, nil, []int16{0, 0}},
		{"entities are apart; part order does not matter", []Command{
			set(user, map[string]float64{"producer_byte_rate": 1}),
			set(QuotaEntity{both[1], both[0]}, map[string]float64{"request_percentage": 50})},
			map[string]float64{"producer_byte_rate": 1}, map[string]float64{"request_percentage": 50}, []int16{0, 0}},
		{"removing the last value forgets the entity", []Command{
			set(user, map[string]float64{"producer_byte_rate": 1, "consumer_byte_rate": 2}),
			set(user, nil, "producer_byte_rate"),
			set(user, nil, "consumer_byte_rate")},
			nil, nil, []int16{0, 0, 0}},
		{"no entity", []Command{set(nil, map[string]float64{"producer_byte_rate": 1})}, nil, nil, []int16{kerr.InvalidRequest.Code}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState()
			res := applyAll(t, s, tc.cmds...)
			for i, r := range res {
				if r.Code != tc.codes[i] {
					t.Errorf("command %d: code %d, want %d", i, r.Code, tc.codes[i])
				}
			}
			// A snapshot carries the quotas.
			data, err := EncodeSnapshot(s)
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodeSnapshot(data)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range []*State{s, back} {
				if got := st.ClientQuota(user); !maps.Equal(got, tc.wantUser) {
					t.Errorf("user quota %v, want %v", got, tc.wantUser)
				}
				if got := st.ClientQuota(both); !maps.Equal(got, tc.wantBoth) {
					t.Errorf("user+client quota %v, want %v", got, tc.wantBoth)
				}
			}
			n, want := 0, 0
			back.EachClientQuota(func(ClientQuota) { n++ })
			for _, m := range []map[string]float64{tc.wantUser, tc.wantBoth} {
				if m != nil {
					want++
				}
			}
			if n != want {
				t.Errorf("%d entities listed, want %d", n, want)
			}
		})
	}
}
