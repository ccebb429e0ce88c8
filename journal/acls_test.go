package journal

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/internal/acl"
)

func TestACLs(t *testing.T) {
	read := acl.Binding{ResourceType: acl.ResourceTopic, Name: "t", Pattern: acl.PatternLiteral,
		Principal: "User:alice", Host: "*", Operation: acl.OpRead, Permission: acl.PermissionAllow}
	prefixed := read
	prefixed.Pattern, prefixed.Name = acl.PatternPrefixed, "team-"
	group := read
	group.ResourceType = acl.ResourceGroup
	bad := read
	bad.Principal = "alice"
	create := func(b acl.Binding) Command { return Command{CreateACL: &CreateACL{ACL: b}} }
	del := func(f acl.Filter) Command { return Command{DeleteACLs: &DeleteACLs{Filter: f}} }
	anyFilter := acl.Filter{ResourceType: acl.ResourceAny, Pattern: acl.PatternAny, Operation: acl.OpAny, Permission: acl.PermissionAny}
	topics := anyFilter
	topics.ResourceType = acl.ResourceTopic
	for _, tc := range []struct {
		name    string
		cmds    []Command
		codes   []int16
		deleted []int // bindings each command's result lists
		want    []acl.Binding
	}{
		{"create", []Command{create(read)}, []int16{0}, []int{0}, []acl.Binding{read}},
		{"create twice stores once", []Command{create(read), create(read)}, []int16{0, 0}, []int{0, 0}, []acl.Binding{read}},
		{"invalid", []Command{create(bad)}, []int16{kerr.InvalidRequest.Code}, []int{0}, nil},
		{"delete by filter", []Command{create(read), create(prefixed), create(group), del(topics)}, []int16{0, 0, 0, 0}, []int{0, 0, 0, 2}, []acl.Binding{group}},
		{"delete nothing", []Command{create(group), del(topics)}, []int16{0, 0}, []int{0, 0}, []acl.Binding{group}},
		{"bad filter", []Command{del(acl.Filter{})}, []int16{kerr.InvalidRequest.Code}, []int{0}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState()
			for i, r := range applyAll(t, s, tc.cmds...) {
				if r.Code != tc.codes[i] || len(r.ACLs) != tc.deleted[i] {
					t.Errorf("command %d: code %d with %d deleted, want %d with %d", i, r.Code, len(r.ACLs), tc.codes[i], tc.deleted[i])
				}
			}
			data, err := EncodeSnapshot(s)
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodeSnapshot(data)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range []*State{s, back} {
				if got := st.ACLBindings(); fmt.Sprint(got) != fmt.Sprint(tc.want) && len(got)+len(tc.want) > 0 {
					t.Errorf("ACLs %v, want %v", got, tc.want)
				}
			}
			if len(tc.want) > 0 && back.ACLVersion == 0 {
				t.Errorf("ACL version 0 after ACLs changed")
			}
		})
	}
}
