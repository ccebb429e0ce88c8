package streamsgroups

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
)

func tasks(sub string, parts ...int32) taskSet {
	s := taskSet{}
	for _, p := range parts {
		s[taskID{sub, p}] = true
	}
	return s
}

func (s taskSet) union(o taskSet) taskSet {
	out := taskSet{}
	maps.Copy(out, s)
	maps.Copy(out, o)
	return out
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
		{"standbys balanced though one member had every task", []assignee{
			{id: "a", process: "p1", prevActive: tasks("0", 0, 1, 2)},
			{id: "b", process: "p2"}, {id: "c", process: "p3"},
		}, 1, func(t *testing.T, out map[string]assignment) {
			for id, a := range out {
				if len(a.active) != 2 || len(a.standby) != 2 {
					t.Errorf("%s: active %v standby %v", id, a.active.sorted(), a.standby.sorted())
				}
			}
		}},
		{"standbys balanced where greedy placement gets stuck", []assignee{
			{id: "a", process: "p1", prevActive: tasks("0", 0, 1)},
			{id: "b", process: "p2", prevActive: tasks("0", 2).union(tasks("1", 0))},
			{id: "c", process: "p3", prevActive: tasks("1", 1, 2)},
		}, 1, func(t *testing.T, out map[string]assignment) {
			for id, a := range out {
				if len(a.active) != 2 || len(a.standby) != 2 || overlaps(a.active, a.standby) {
					t.Errorf("%s: active %v standby %v", id, a.active.sorted(), a.standby.sorted())
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

// Over many shapes of group (members, processes, task counts, previous
// owners), the assignment keeps its invariants: every task active once,
// no member over its share, each task's standbys on distinct processes
// other than its active's, and, with one member per process, every member
// within its share of standbys.
func TestAssignStickyInvariants(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		n := 1 + rnd.IntN(6)
		counts := map[string]int32{"0": int32(1 + rnd.IntN(8)), "1": int32(rnd.IntN(8))}
		onePerProcess := rnd.IntN(2) == 0
		var members []assignee
		for j := range n {
			proc := fmt.Sprintf("p%d", j)
			if !onePerProcess {
				proc = fmt.Sprintf("p%d", rnd.IntN(3))
			}
			m := assignee{id: fmt.Sprintf("m%d", j), process: proc, prevActive: taskSet{}, prevStandby: taskSet{}}
			for sub, c := range counts {
				for p := range c {
					if rnd.IntN(n+1) == 0 {
						m.prevActive[taskID{sub, p}] = true
					}
				}
			}
			members = append(members, m)
		}
		standbys := rnd.IntN(3)
		out := assignSticky(counts, members, standbys)
		total := int(counts["0"] + counts["1"])
		quota := (total + n - 1) / n
		procs := map[string]bool{}
		for _, m := range members {
			procs[m.process] = true
		}
		copies := map[taskID]map[string]int{}
		count := func(tk taskID, proc string) {
			if copies[tk] == nil {
				copies[tk] = map[string]int{}
			}
			copies[tk][proc]++
		}
		for _, m := range members {
			a := out[m.id]
			if len(a.active) > quota {
				t.Fatalf("case %d: %s has %d active, quota %d", i, m.id, len(a.active), quota)
			}
			for tk := range a.active {
				count(tk, m.process)
			}
			for tk := range a.standby {
				count(tk, m.process)
			}
		}
		if len(copies) != total {
			t.Fatalf("case %d: %d of %d tasks placed", i, len(copies), total)
		}
		want := 1 + min(standbys, len(procs)-1)
		for tk, byProc := range copies {
			for proc, c := range byProc {
				if c > 1 {
					t.Fatalf("case %d: task %v twice on %s", i, tk, proc)
				}
			}
			if len(byProc) != want {
				t.Fatalf("case %d: task %v on %d processes, want %d", i, tk, len(byProc), want)
			}
		}
		if onePerProcess && n > 1 {
			share := (total*min(standbys, n-1) + n - 1) / n
			for _, m := range members {
				if s := len(out[m.id].standby); s > share {
					t.Fatalf("case %d (%d members, %d tasks, %d standbys): %s has %d standbys, share %d", i, n, total, standbys, m.id, s, share)
				}
			}
		}
	}
}
