package streamsgroups

import (
	"cmp"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// taskID is a task: a subtopology and the partition of its inputs it
// processes.
type taskID struct {
	sub  string
	part int32
}

func compareTasks(a, b taskID) int {
	return cmp.Or(cmp.Compare(a.sub, b.sub), cmp.Compare(a.part, b.part))
}

// taskSet is a set of tasks.
type taskSet map[taskID]bool

func (s taskSet) sorted() []taskID { return slices.SortedFunc(maps.Keys(s), compareTasks) }

func (s taskSet) equal(o taskSet) bool { return maps.Equal(s, o) }

func setOf(ts []kmsg.TaskIDs) taskSet {
	out := taskSet{}
	for _, t := range ts {
		for _, p := range t.Partitions {
			out[taskID{t.SubtopologyID, p}] = true
		}
	}
	return out
}

// wire renders a set as the protocol's TaskIDs, by subtopology, sorted;
// an empty set is an empty (not null) list.
func (s taskSet) wire() []kmsg.TaskIDs {
	out := []kmsg.TaskIDs{}
	for _, t := range s.sorted() {
		if n := len(out); n > 0 && out[n-1].SubtopologyID == t.sub {
			out[n-1].Partitions = append(out[n-1].Partitions, t.part)
			continue
		}
		ids := kmsg.NewTaskIDs()
		ids.SubtopologyID, ids.Partitions = t.sub, []int32{t.part}
		out = append(out, ids)
	}
	return out
}

// assignment is one member's tasks.
type assignment struct {
	active, standby, warmup taskSet
}

func newAssignment() assignment {
	return assignment{active: taskSet{}, standby: taskSet{}, warmup: taskSet{}}
}

func (a assignment) equal(o assignment) bool {
	return a.active.equal(o.active) && a.standby.equal(o.standby) && a.warmup.equal(o.warmup)
}

func (a assignment) wire() kmsg.StreamsAssignment {
	w := kmsg.NewStreamsAssignment()
	w.ActiveTasks, w.StandbyTasks, w.WarmupTasks = a.active.wire(), a.standby.wire(), a.warmup.wire()
	return w
}

// assignee is a member as the assignor sees it: its process (a Kafka
// Streams instance, which may run several members, one per stream thread)
// and the tasks it held, whose state it has locally.
type assignee struct {
	id, process string
	prevActive  taskSet
	prevStandby taskSet
}

// assignSticky is the "sticky" task assignor, Kafka's default for streams
// groups. Every task is active on exactly one member, no member has more
// than its share (the task count over the member count, rounded up), and
// within that:
//
//  1. a task stays with the member that had it active;
//  2. a task without one goes to a member that had it as a standby (its
//     state is there), then to the least loaded member, the least loaded
//     process breaking ties, so the tasks of a subtopology spread out;
//  3. each task gets up to standbys standby replicas, each on a process
//     that hosts no other copy of it, preferring a member that had the
//     task, then the least loaded.
//
// The result is deterministic: members and tasks are taken in sorted order.
func assignSticky(taskCounts map[string]int32, members []assignee, standbys int) map[string]assignment {
	out := map[string]assignment{}
	if len(members) == 0 {
		return out
	}
	members = slices.Clone(members)
	slices.SortFunc(members, func(a, b assignee) int { return cmp.Compare(a.id, b.id) })
	var all []taskID
	for _, sub := range slices.Sorted(maps.Keys(taskCounts)) {
		for p := range taskCounts[sub] {
			all = append(all, taskID{sub, p})
		}
	}
	for _, m := range members {
		out[m.id] = newAssignment()
	}
	quota := (len(all) + len(members) - 1) / len(members)
	load := map[string]int{}        // tasks (active and standby) per member
	processLoad := map[string]int{} // per process
	give := func(m assignee, t taskID, active bool) {
		if active {
			out[m.id].active[t] = true
		} else {
			out[m.id].standby[t] = true
		}
		load[m.id]++
		processLoad[m.process]++
	}
	activeCount := func(m assignee) int { return len(out[m.id].active) }

	owner := map[taskID]bool{}
	// 1. Stickiness of active tasks.
	for _, t := range all {
		for _, m := range members {
			if m.prevActive[t] && activeCount(m) < quota {
				give(m, t, true)
				owner[t] = true
				break
			}
		}
	}
	// 2. Former standbys, then the least loaded.
	for _, t := range all {
		if owner[t] {
			continue
		}
		var pick *assignee
		for i, m := range members {
			if m.prevStandby[t] && activeCount(m) < quota {
				pick = &members[i]
				break
			}
		}
		if pick == nil {
			for i, m := range members {
				if activeCount(m) >= quota {
					continue
				}
				if pick == nil || lessLoaded(m, *pick, out, processLoad) {
					pick = &members[i]
				}
			}
		}
		give(*pick, t, true)
		owner[t] = true
	}
	// 3. Standby replicas, balanced like the active tasks: a member takes
	// no more than its share of them while another can.
	standbyQuota := (len(all)*standbys + len(members) - 1) / len(members)
	for range standbys {
		for _, t := range all {
			hosts := map[string]bool{}
			for _, m := range members {
				if out[m.id].active[t] || out[m.id].standby[t] {
					hosts[m.process] = true
				}
			}
			if pick := pickStandby(t, members, hosts, out, load, standbyQuota); pick != nil {
				give(*pick, t, false)
			}
		}
	}
	balanceStandbys(members, out, standbyQuota)
	return out
}

// balanceStandbys moves standby tasks from members over their quota to
// members under it, where the greedy pass got stuck (the only members
// with room hosted the task): directly when the member under quota may
// host the task, else through a third member that swaps a task with it.
// A process never gets two copies of a task.
func balanceStandbys(members []assignee, out map[string]assignment, quota int) {
	process := map[string]string{}
	for _, m := range members {
		process[m.id] = m.process
	}
	hosts := func(proc string, t taskID) bool {
		for id, a := range out {
			if process[id] == proc && (a.active[t] || a.standby[t]) {
				return true
			}
		}
		return false
	}
	move := func(t taskID, from, to string) {
		delete(out[from].standby, t)
		out[to].standby[t] = true
	}
	for range len(members) * quota {
		var over, under string
		for _, m := range members {
			switch n := len(out[m.id].standby); {
			case n > quota && over == "":
				over = m.id
			case n < quota && under == "":
				under = m.id
			}
		}
		if over == "" || under == "" {
			return
		}
		moved := false
		for _, t := range out[over].standby.sorted() {
			if process[over] != process[under] && !hosts(process[under], t) {
				move(t, over, under)
				moved = true
				break
			}
			// Through a third member w: w gives u a task u may host, and
			// takes t.
			for _, w := range members {
				if w.id == over || w.id == under || hosts(w.process, t) {
					continue
				}
				for _, t2 := range out[w.id].standby.sorted() {
					if !hosts(process[under], t2) {
						move(t2, w.id, under)
						move(t, over, w.id)
						moved = true
						break
					}
				}
				if moved {
					break
				}
			}
			if moved {
				break
			}
		}
		if !moved {
			return
		}
	}
}

// pickStandby chooses the member for a standby of t among those on a
// process not hosting t: one under its standby quota if any, and among
// them one that had t (its state is there), then the least loaded.
func pickStandby(t taskID, members []assignee, hosts map[string]bool, out map[string]assignment, load map[string]int, quota int) *assignee {
	had := func(m *assignee) bool { return m.prevActive[t] || m.prevStandby[t] }
	var pick *assignee
	for _, capped := range []bool{true, false} {
		for i := range members {
			m := &members[i]
			if hosts[m.process] || (capped && len(out[m.id].standby) >= quota) {
				continue
			}
			switch {
			case pick == nil:
				pick = m
			case had(m) != had(pick):
				if had(m) {
					pick = m
				}
			case load[m.id] < load[pick.id]:
				pick = m
			}
		}
		if pick != nil {
			return pick
		}
	}
	return nil
}

// lessLoaded orders candidates for a new active task: fewer active tasks,
// then a less loaded process, then the member id.
func lessLoaded(a, b assignee, out map[string]assignment, processLoad map[string]int) bool {
	if la, lb := len(out[a.id].active), len(out[b.id].active); la != lb {
		return la < lb
	}
	if pa, pb := processLoad[a.process], processLoad[b.process]; pa != pb {
		return pa < pb
	}
	return a.id < b.id
}
