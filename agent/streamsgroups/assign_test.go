package streamsgroups

import (
	"fmt"
	"testing"
)

func tasks(sub string, parts ...int32) taskSet {
	s := taskSet{}
	for _, p := range parts {
		s[taskID{sub, p}] = true
	}
	return s
}

func TestAssignSticky(t *testing.T) {
	counts := map[string]int32{"0": 3, "1": 3}
	for _, tc := range []struct {
		name     string
		members  []assignee
		standbys int
		check    func(t *testing.T, out map[string]assignment)
	}{
		{"balanced over three", []assignee{{id: "a", process: "p1"}, {id: "b", process: "p2"}, {id: "c", process: "p3"}}, 0,
			func(t *testing.T, out map[string]assignment) {
				for id, a := range out {
					if len(a.active) != 2 {
						t.Errorf("%s has %d active tasks", id, len(a.active))
					}
				}
			}},
		{"sticky", []assignee{
			{id: "a", process: "p1", prevActive: tasks("0", 0, 1, 2)},
			{id: "b", process: "p2", prevActive: tasks("1", 0, 1, 2)},
		}, 0, func(t *testing.T, out map[string]assignment) {
			if !out["a"].active.equal(tasks("0", 0, 1, 2)) || !out["b"].active.equal(tasks("1", 0, 1, 2)) {
				t.Errorf("moved tasks: %v", out)
			}
		}},
		{"a newcomer takes from the overloaded only", []assignee{
			{id: "a", process: "p1", prevActive: tasks("0", 0, 1, 2)},
			{id: "b", process: "p2", prevActive: tasks("1", 0, 1, 2)},
			{id: "c", process: "p3"},
		}, 0, func(t *testing.T, out map[string]assignment) {
			for id, prev := range map[string]taskSet{"a": tasks("0", 0, 1, 2), "b": tasks("1", 0, 1, 2)} {
				if len(out[id].active) != 2 || len(minus(out[id].active, prev)) != 0 {
					t.Errorf("%s: %v", id, out[id].active.sorted())
				}
			}
			if len(out["c"].active) != 2 {
				t.Errorf("c: %v", out["c"].active.sorted())
			}
		}},
		{"standby state preferred", []assignee{
			{id: "a", process: "p1", prevStandby: tasks("0", 1)},
			{id: "b", process: "p2"},
		}, 0, func(t *testing.T, out map[string]assignment) {
			if !out["a"].active[taskID{"0", 1}] {
				t.Errorf("0_1 not on its standby's member: %v", out)
			}
		}},
		{"standbys on other processes", []assignee{
			{id: "a", process: "p1"}, {id: "a2", process: "p1"}, {id: "b", process: "p2"},
		}, 1, func(t *testing.T, out map[string]assignment) {
			proc := map[string]string{"a": "p1", "a2": "p1", "b": "p2"}
			for sub, n := range counts {
				for p := range n {
					tk := taskID{sub, p}
					var activeOn, standbyOn []string
					for id, a := range out {
						if a.active[tk] {
							activeOn = append(activeOn, proc[id])
						}
						if a.standby[tk] {
							standbyOn = append(standbyOn, proc[id])
						}
					}
					if len(activeOn) != 1 || len(standbyOn) != 1 || activeOn[0] == standbyOn[0] {
						t.Errorf("task %v: active on %v, standby on %v", tk, activeOn, standbyOn)
					}
				}
			}
		}},
		{"standby impossible on one process", []assignee{{id: "a", process: "p1"}, {id: "b", process: "p1"}}, 1,
			func(t *testing.T, out map[string]assignment) {
				for id, a := range out {
					if len(a.standby) != 0 {
						t.Errorf("%s has standbys on the active's process: %v", id, a.standby.sorted())
					}
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := assignSticky(counts, tc.members, tc.standbys)
			seen := taskSet{}
			for _, a := range out {
				for tk := range a.active {
					if seen[tk] {
						t.Fatalf("task %v active twice", tk)
					}
					seen[tk] = true
				}
			}
			if len(seen) != 6 {
				t.Fatalf("%d of 6 tasks assigned", len(seen))
			}
			tc.check(t, out)
			again := assignSticky(counts, tc.members, tc.standbys)
			if fmt.Sprint(again) != fmt.Sprint(out) {
				t.Fatalf("not deterministic: %v then %v", out, again)
			}
		})
	}
}
