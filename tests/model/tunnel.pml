/* The tunnel state machine of daemon/tunnel.c (docs/state-machine.md) as
 * a Promela model for spin: two gateways (0 = tunnel initiator I, 1 =
 * tunnel responder R), their kernels' SA tables and the network between
 * them. Every transition of a gateway is one atomic step marked with its
 * row of daemon/tunnel_rows.def (the C code's table, included below) and
 * checked against it. tests/model/check.sh runs the configurations of
 * docs/state-machine.md "Model" and the known-bad variants.
 *
 * Abstractions
 * - An MLS group is a group id (gid): every commit creates a new gid, so
 *   two commits for the same epoch differ (a collision). gep[] is a gid's
 *   epoch, gses[] its session (the group R created for a HELLO), gby[] the
 *   gateway that made it. ESP keys are named by the gid they come from.
 * - A message is {type, response, a, n, s, e}: a = the gid it is sealed
 *   in (HELLO, WELCOME: the KeyPackage id), n = the gid a commit creates
 *   (WELCOME: the new group), s = the SPI it carries, e = the epoch its
 *   clear header claims. A message authenticates in a group iff a is that
 *   group's gid (or its staged commit's, MLS's staged-epoch processing).
 *   Byte equality (duplicate caches) is equality of (kind, a, n, s).
 * - Kernel: kin[g*MAXS + spi] = the gid whose key the inbound SA spi of
 *   gateway g holds (0: none); kos/kok = the outbound SA (SPI, key gid).
 *   SPIs come from the kernel of the receiving gateway (nspi).
 * - Time: timers are events that may fire at any moment, with two timing
 *   facts of the C code kept as ghost tokens (never read by the protocol):
 *   a retransmission schedule ends (give-up) after max_tries sends, and an
 *   old inbound SA retired while answering the peer's request instance k
 *   is deleted (row 17) only once k has ended, because grace_ms covers the
 *   whole retransmission schedule (tunnel_new enforces it). A restarted
 *   gateway's RESUME is assumed to reach the peer before the grace period
 *   of the instance it replaces runs out (cov[]).
 * - Crashes: the daemon saves after every step and before COMMIT, RESUME
 *   and EPOCH_ACK leave (tunnel_ops.save); a crash restores the last save
 *   (or nothing: a lost file) and runs daemon.c's try_resume: SAs the file
 *   names are installed again, others pruned, the policies point at the
 *   saved outbound SA, and tunnel_resume sends RESUME. With CRASH_WIN a
 *   crash can also hit between a step's kernel changes and its save.
 */

#ifndef NSLOT
#define NSLOT 3 /* messages in flight per direction */
#endif
#ifndef MAXTRY
#define MAXTRY 2 /* transmissions of a request before it is given up */
#endif
#ifndef LOSS
#define LOSS 1
#endif
#ifndef DUPS
#define DUPS 1
#endif
#ifndef REKEYS
#define REKEYS 2 /* rekeys started by timer/command, both sides together */
#endif
#ifndef CRASHES
#define CRASHES 0
#endif
#ifndef CRASH_WIN
#define CRASH_WIN 0 /* crashes inside a step (kernel changed, not saved) */
#endif
#ifndef LOST_FILES
#define LOST_FILES 0 /* crashes that lose the state file (rows 22, 23a) */
#endif
#ifndef SPURIOUS_DPD
#define SPURIOUS_DPD 0 /* DPD probes while the peer is alive */
#endif
#ifndef DOWNS
#define DOWNS 0 /* administrative down-and-up (row 20) */
#endif

#ifdef BAD_BOTH_WIN
#define BOTH_WIN 1 /* known-bad: the responder's commit wins too */
#else
#define BOTH_WIN 0
#endif

#define MAXG 24 /* gids */
#define MAXS 12 /* SPIs per gateway */
#define NOLD 4  /* old inbound SAs (the C code keeps 8) */

/* States: enum tunnel_state. */
#define DOWN 0
#define HELLO_SENT 1
#define WELCOME_SENT 2
#define JOIN_COMMIT_SENT 3
#define ESTABLISHED 4
#define REKEY_SENT 5
/* Messages: enum tunnel_msg. */
#define HELLO 1
#define WELCOME 3
#define COMMIT 4
#define ACK 5
#define RESUME 6
#define KEEPALIVE 7
#define CLOSE 8

/* The table's names (daemon/tunnel.h defines the same for C). */
#define S_DOWN (1 << DOWN)
#define S_HELLO_SENT (1 << HELLO_SENT)
#define S_WELCOME_SENT (1 << WELCOME_SENT)
#define S_JOIN_COMMIT_SENT (1 << JOIN_COMMIT_SENT)
#define S_ESTABLISHED (1 << ESTABLISHED)
#define S_REKEY_SENT (1 << REKEY_SENT)
#define S_ANY 63
#define S_SAME 0
#define E_START (1 << 0)
#define E_TIMER (1 << 1)
#define E_REKEY (1 << 2)
#define E_EXPIRE (1 << 3)
#define E_DOWN (1 << 4)
#define E_LOAD (1 << 5)
#define E_RESUMECMD (1 << 6)
#define E_HELLO (1 << 7)
#define E_WELCOME (1 << 8)
#define E_COMMIT (1 << 9)
#define E_ACK (1 << 10)
#define E_RESUME (1 << 11)
#define E_KEEPALIVE (1 << 12)
#define E_CLOSE (1 << 13)
#define E_COOKIE (1 << 14)
#define M_YES 1
#define M_NO 0

typedef Msg {
	byte t;
	bit resp;
	byte a;
	byte n;
	byte s;
	byte e;
	byte tok; /* ghost: the sender's request instance */
};

Msg net[2 * NSLOT]; /* net[d * NSLOT + i]: towards gateway d */

byte gep[MAXG], gses[MAXG], gby[MAXG], gpar[MAXG];
byte ngid = 1, nkp = 1, ntok = 1, nses = 1;

/* Each gateway (daemon/tunnel.c struct tunnel). */
byte st[2], gg[2], stg[2];
byte sin[2], sout[2], sstg[2];
byte osp[2 * NOLD], otk[2 * NOLD], nold[2];
Msg rq[2];
byte tries[2];
Msg lq[2], la[2]; /* last request answered and the answer */
byte appl[2];     /* the peer's commit last applied (row 26's hash) */
byte kp[2];       /* I: the KeyPackage of the HELLO outstanding */
byte pg, ph;      /* R: the pending group (row 22) and its HELLO */
int seen;         /* R: KeyPackages answered */
/* Kernels. */
byte kin[2 * MAXS], kos[2], kok[2], nspi[2];
/* State files. */
bit fok[2];
byte fst[2], fgg[2], fstg[2], fsin[2], fsout[2], fsstg[2], fappl[2];
byte fosp[2 * NOLD], fnold[2];
Msg frq[2];
/* Budgets. */
byte loss = LOSS, dups = DUPS, rekeys = REKEYS, crashes = CRASHES;
byte cwin = CRASH_WIN, lost = LOST_FILES, spur = SPURIOUS_DPD;
byte downs = DOWNS;
/* Ghosts. */
bit resto[2];   /* restarted with a state file, not yet resynchronised */
bit cbr[2];     /* a breach happened while resto */
byte cov[2];    /* request instance a restart replaced (see above) */
byte ikid[MAXG];/* the commit I has staged on a parent gid (property 4) */
short rowid, rowev; /* the row being taken */
byte rowfrom, rowg;
bit brk;        /* the step was cut short by a crash */

/* ---- the table ------------------------------------------------------ */

#define TROW(id, from, ev, to, m) \
	|| (rowid == (id) && m == M_YES && ((from) >> rowfrom & 1) && \
	    ((ev) & rowev) != 0 && \
	    ((to) == S_SAME -> st[rowg] == rowfrom : ((to) >> st[rowg] & 1)))

/* The row taken by the step that ends here is a row of the C table. */
/* Which rows the search takes, printed once each (ROWSEEN lines): the
 * set check.sh compares with the table's M_YES rows. Not state. */
c_decl {
	static unsigned char rows_seen[512];
}

inline row_done()
{
	if
	:: rowid != 0 ->
		c_code {
			if (now.rowid > 0 && now.rowid < 512 &&
			    !rows_seen[now.rowid]) {
				rows_seen[now.rowid] = 1;
				printf("ROWSEEN %d\n", now.rowid);
			}
		};
		assert(false
#include "../../daemon/tunnel_rows.def"
		);
		rowid = 0
	:: else
	fi
}

/* Marks the row a step takes (a step may pass through several: each
 * must fit the table, the state it leaves checked at the next mark). */
inline ROW(g, id, ev)
{
	row_done();
	rowid = id;
	rowfrom = st[g];
	rowev = ev;
	rowg = g
}

/* ---- helpers --------------------------------------------------------- */

#define KIND(t) (t == RESUME -> COMMIT : t)
#define SAME(x, y) \
	(KIND(x.t) == KIND(y.t) && x.resp == y.resp && x.a == y.a && \
	 x.n == y.n && x.s == y.s)
#define EP(g) gep[gg[g]]

inline mclr(x)
{
	x.t = 0; x.resp = 0; x.a = 0; x.n = 0; x.s = 0; x.e = 0; x.tok = 0
}

inline mcpy(x, y)
{
	x.t = y.t; x.resp = y.resp; x.a = y.a; x.n = y.n; x.s = y.s;
	x.e = y.e; x.tok = y.tok
}

/* Removes message `slot` of direction d, keeping the others in the
 * order they were sent (oldest first). */
inline unslot(d, slot)
{
	q = slot;
	do
	:: q + 1 < (d) * NSLOT + NSLOT ->
		mcpy(net[q], net[q + 1]); q++
	:: else -> break
	od;
	mclr(net[(d) * NSLOT + NSLOT - 1])
}

/* Onto the wire towards 1 - g, after the others. A full direction
 * (NSLOT messages on their way) loses its oldest message: the network's
 * delay is bounded by NSLOT later messages, not by LOSS. */
inline put(g, mt, mr, ma, mn, ms, me, mtok)
{
	if
	:: net[(1 - (g)) * NSLOT + NSLOT - 1].t != 0 ->
		unslot(1 - (g), (1 - (g)) * NSLOT);
		if :: evicted < MAXTRY -> evicted++ :: else fi
	:: else
	fi;
	q = (1 - (g)) * NSLOT;
	do
	:: net[q].t != 0 -> q++
	:: else -> break
	od;
	net[q].t = mt; net[q].resp = mr; net[q].a = ma; net[q].n = mn;
	net[q].s = ms; net[q].e = me; net[q].tok = mtok
}

inline put_msg(g, x)
{
	put(g, x.t, x.resp, x.a, x.n, x.s, x.e, x.tok)
}

/* A new request instance, kept for retransmission. */
inline req_set(g, mt, ma, mn, ms)
{
	rq[g].t = mt; rq[g].resp = 0; rq[g].a = ma; rq[g].n = mn;
	rq[g].s = ms; rq[g].e = gep[ma]; rq[g].tok = ntok; ntok++;
	if
	:: mt == HELLO -> rq[g].e = 0
	:: else
	fi;
	tries[g] = 1
}

inline req_send(g, mt, ma, mn, ms)
{
	req_set(g, mt, ma, mn, ms);
	put_msg(g, rq[g])
}

/* Answer to request m, cached for its duplicates. */
inline respond(g, m, mt, ma, ms)
{
	mcpy(lq[g], m);
	la[g].t = mt; la[g].resp = 1; la[g].a = ma; la[g].n = 0; la[g].s = ms;
	la[g].e = gep[ma]; la[g].tok = m.tok;
	if
	:: mt == WELCOME -> la[g].n = ms; la[g].s = 0; la[g].e = 0
	:: else
	fi;
	put_msg(g, la[g])
}

inline spi_alloc(g, v)
{
	nspi[g]++;
	assert(nspi[g] < MAXS);
	v = nspi[g]
}

inline gid_new(g, parent)
{
	assert(ngid < MAXG);
	k = ngid;
	ngid++;
	gep[k] = gep[parent] + 1;
	gses[k] = gses[parent];
	gby[k] = g;
	gpar[k] = parent
}

/* The request instance a grace period starting now covers: the peer's
 * schedule under way (it started before now, so it ends before now +
 * grace_ms), else the one that sent m. */
#define COVER(g, m) (rq[1 - (g)].t != 0 -> rq[1 - (g)].tok : m.tok)

/* Keeps inbound SA v until the grace period of request instance tk. */
inline retire(g, v, tk)
{
	if
	:: v != 0 ->
		if
		:: nold[g] == NOLD ->
			/* the oldest goes now (tunnel.c: MAX_OLD_IN) */
			kin[g * MAXS + osp[g * NOLD]] = 0;
			j = 0;
			do
			:: j + 1 < NOLD ->
				osp[g * NOLD + j] = osp[g * NOLD + j + 1];
				otk[g * NOLD + j] = otk[g * NOLD + j + 1];
				j++
			:: else -> break
			od;
			nold[g]--
		:: else
		fi;
		osp[g * NOLD + nold[g]] = v;
		otk[g * NOLD + nold[g]] = tk;
		nold[g]++
	:: else
	fi
}

inline clear_old(g)
{
	j = 0;
	do
	:: j < NOLD -> osp[g * NOLD + j] = 0; otk[g * NOLD + j] = 0; j++
	:: else -> break
	od;
	nold[g] = 0
}

/* The state file (daemon persist / tunnel_save): only ESTABLISHED and
 * REKEY_SENT are saved; any other state removes the file. */
inline save(g)
{
	if
	:: st[g] == ESTABLISHED || st[g] == REKEY_SENT ->
		fok[g] = 1; fst[g] = st[g]; fgg[g] = gg[g]; fstg[g] = stg[g];
		fsin[g] = sin[g]; fsout[g] = sout[g]; fsstg[g] = sstg[g];
		fappl[g] = appl[g]; fnold[g] = nold[g];
		j = 0;
		do
		:: j < NOLD -> fosp[g * NOLD + j] = osp[g * NOLD + j]; j++
		:: else -> break
		od;
		if
		:: st[g] == REKEY_SENT -> mcpy(frq[g], rq[g])
		:: else -> mclr(frq[g])
		fi
	:: else ->
		fok[g] = 0; fst[g] = 0; fgg[g] = 0; fstg[g] = 0; fsin[g] = 0;
		fsout[g] = 0; fsstg[g] = 0; fappl[g] = 0; fnold[g] = 0;
		j = 0;
		do
		:: j < NOLD -> fosp[g * NOLD + j] = 0; j++
		:: else -> break
		od;
		mclr(frq[g])
	fi
}

/* A save point inside a step: the crash may come before it (CRASH_WIN),
 * with the step's kernel changes made and nothing else. */
inline save_point(g)
{
	if
	:: cwin > 0 && crashes > 0 -> cwin--; brk = 1
	:: true -> save(g)
	fi
}

/* The gateway synchronised again after a restart (its RESUME answered,
 * or it applied the peer's commit): no breach may have happened since
 * the restart, unless a fallback handshake follows (tear_down). */
inline resynced(g)
{
	if
	:: resto[g] -> assert(!cbr[g]); resto[g] = 0; cov[g] = 0
	:: else
	fi
}

/* Rows 16, 19, 20, 20a, kernel part: every SA deleted, group wiped. */
inline tear_down(g)
{
	j = 0;
	do
	:: j < MAXS -> kin[g * MAXS + j] = 0; j++
	:: else -> break
	od;
	kos[g] = 0; kok[g] = 0;
	if
	:: g == 0 && stg[g] != 0 -> ikid[gg[g]] = 0
	:: else
	fi;
	clear_old(g);
	sin[g] = 0; sout[g] = 0; sstg[g] = 0;
	mclr(rq[g]); tries[g] = 0;
	gg[g] = 0; stg[g] = 0; kp[g] = 0; appl[g] = 0;
	if
	:: g == 1 -> pg = 0; ph = 0
	:: else
	fi;
	mclr(lq[g]); mclr(la[g]);
	st[g] = DOWN;
	resto[g] = 0; cbr[g] = 0; cov[g] = 0
}

/* Stages a commit with a fresh inbound SPI whose SA is installed from
 * the staged epoch (commit_with_spi): rows 6, 9, 23. */
inline commit_with_spi(g, mt, rekey)
{
	spi_alloc(g, v);
	gid_new(g, gg[g]);
	stg[g] = k;
	if
	:: g == 0 -> ikid[gg[g]] = k
	:: else
	fi;
#ifndef BAD_SWITCH_EARLY
	kin[g * MAXS + v] = k;
#endif
	sstg[g] = v;
	/* request_send_ex: the request is kept, then saved, then sent */
	req_set(g, mt, gg[g], stg[g], sstg[g]);
	if
	:: rekey -> st[g] = REKEY_SENT; save_point(g)
	:: else
	fi;
	if
	:: !brk -> put_msg(g, rq[g])
	:: else
	fi
}

/* Applying a commit of the peer (rows 7, 10, 15, 22a, 25): property 4,
 * the initiator's commit wins, so no commit of R's is applied while I has
 * one staged on the same parent. */
inline applying(c)
{
	assert(gby[c] == 0 || ikid[gpar[c]] == 0)
}

/* Rows 7, 10, 15, 25 once the commit is applied: new inbound SA, switch
 * to the committer's SPI, acknowledge (tunnel.c rekeyed). */
inline rekeyed(g, m)
{
	spi_alloc(g, v);
	kin[g * MAXS + v] = gg[g];
	kos[g] = m.s; kok[g] = gg[g];
	tkv = COVER(g, m);
	retire(g, sin[g], tkv);
	sin[g] = v;
	sout[g] = m.s;
	st[g] = ESTABLISHED;
	appl[g] = m.n;
	save_point(g);
	if
	:: !brk ->
		resynced(g);
		respond(g, m, ACK, gg[g], v)
	:: else
	fi
}

/* ---- receiving (tunnel_receive) --------------------------------------- */

/* Rows 4, 5, 22. */
inline on_hello(g, m)
{
	if
	:: g == 0 -> skip
	:: g == 1 && lq[g].t != 0 && SAME(lq[g], m) ->
		ROW(g, 50, E_HELLO); put_msg(g, la[g])
	:: g == 1 && !(lq[g].t != 0 && SAME(lq[g], m)) && pg != 0 &&
	   ph == m.a ->
		ROW(g, 50, E_HELLO);
		put(g, WELCOME, 1, m.a, pg, 0, 0, m.tok)
	:: g == 1 && !(lq[g].t != 0 && SAME(lq[g], m)) &&
	   !(pg != 0 && ph == m.a) && (seen >> m.a & 1) -> skip
	:: g == 1 && !(lq[g].t != 0 && SAME(lq[g], m)) &&
	   !(pg != 0 && ph == m.a) && !(seen >> m.a & 1) ->
		/* a new group: epoch 1 of a new session */
		assert(ngid < MAXG);
		k = ngid; ngid++;
		gep[k] = 1; gses[k] = nses; nses++; gby[k] = 1; gpar[k] = 0;
		seen = seen | (1 << m.a);
		if
		:: st[g] == DOWN ->
			ROW(g, 40, E_HELLO);
			gg[g] = k; st[g] = WELCOME_SENT;
			respond(g, m, WELCOME, m.a, k)
		:: else ->
			ROW(g, 220, E_HELLO);
			pg = k; ph = m.a;
			put(g, WELCOME, 1, m.a, k, 0, 0, m.tok)
		fi
	fi
}

/* Row 6. */
inline on_welcome(g, m)
{
	if
	:: st[g] == HELLO_SENT && g == 0 && m.a == kp[g] ->
		ROW(g, 60, E_WELCOME);
		gg[g] = m.n; kp[g] = 0;
		mclr(rq[g]); tries[g] = 0;
		commit_with_spi(g, COMMIT, 0);
		st[g] = JOIN_COMMIT_SENT
	:: else -> skip
	fi
}

/* Row 22a: the pending session's first COMMIT. */
inline switch_session(g, m, ev)
{
	ROW(g, 221, ev);
	spi_alloc(g, v);
	/* the pending group has applied the commit (mls_group_process) */
	kin[g * MAXS + v] = m.n;
	kos[g] = m.s; kok[g] = m.n;
	/* every old inbound SA at once */
	j = 0;
	do
	:: j < MAXS -> if :: j != v -> kin[g * MAXS + j] = 0 :: else fi; j++
	:: else -> break
	od;
	clear_old(g);
	sin[g] = v; sout[g] = m.s; sstg[g] = 0; stg[g] = 0;
	gg[g] = m.n; applying(m.n);
	pg = 0; ph = 0;
	mclr(rq[g]); tries[g] = 0;
	st[g] = ESTABLISHED;
	resto[g] = 0; cbr[g] = 0;
	respond(g, m, ACK, gg[g], v)
}

/* Rows 7, 10, 11, 14, 15, 22a (and 24: a RESUME of our epoch). */
inline on_commit(g, m, ev)
{
	if
	:: lq[g].t != 0 && SAME(lq[g], m) ->
		ROW(g, 110, ev);
#ifndef BAD_NO_DUP_ACK
		put_msg(g, la[g])
#else
		skip /* known-bad: the duplicate gets no answer */
#endif
	:: else ->
		if
		:: gg[g] != 0 && stg[g] != 0 && m.e == EP(g) && m.a == gg[g] ->
			/* a collision (process_beside_staged) */
			if
#ifndef BAD_BOTH_WIN
			:: g == 0 ->
				ROW(g, 140, ev) /* ours wins: dropped */
#endif
			:: g == 1 || BOTH_WIN ->
				ROW(g, 150, ev);
				kin[g * MAXS + sstg[g]] = 0;
				if
				:: g == 0 -> ikid[gg[g]] = 0
				:: else
				fi;
				sstg[g] = 0; stg[g] = 0;
				mclr(rq[g]); tries[g] = 0;
				gg[g] = m.n; applying(m.n);
				st[g] = ESTABLISHED;
				rekeyed(g, m)
			fi
		:: gg[g] != 0 && stg[g] == 0 && m.a == gg[g] ->
			if
			:: st[g] == WELCOME_SENT -> ROW(g, 70, ev)
			:: else -> ROW(g, 100, ev)
			fi;
			gg[g] = m.n; applying(m.n);
			rekeyed(g, m)
		:: else ->
			if
			:: g == 1 && pg != 0 && m.a == pg -> switch_session(g, m, ev)
			:: else -> skip /* row 21 */
			fi
		fi
	fi
}

/* Rows 8, 12. */
inline on_ack(g, m)
{
	if
	:: (st[g] == JOIN_COMMIT_SENT || st[g] == REKEY_SENT) &&
	   stg[g] != 0 && m.a == stg[g] ->
		if
		:: st[g] == JOIN_COMMIT_SENT -> ROW(g, 80, E_ACK)
		:: else -> ROW(g, 120, E_ACK)
		fi;
		applying(stg[g]);
		if
		:: g == 0 -> ikid[gg[g]] = 0
		:: else
		fi;
		gg[g] = stg[g]; stg[g] = 0;
#ifdef BAD_SWITCH_EARLY
		/* known-bad: our inbound SA only now, after the peer switched */
		kin[g * MAXS + sstg[g]] = gg[g];
#endif
		kos[g] = m.s; kok[g] = gg[g];
		retire(g, sin[g], 0);
		sin[g] = sstg[g]; sstg[g] = 0; sout[g] = m.s;
		mclr(rq[g]); tries[g] = 0;
		st[g] = ESTABLISHED;
		resynced(g)
	:: else -> skip
	fi
}

/* Rows 16a, 19: KEEPALIVE. */
inline on_keepalive(g, m)
{
	if
	:: !m.resp && lq[g].t != 0 && SAME(lq[g], m) ->
		ROW(g, 193, E_KEEPALIVE); put_msg(g, la[g])
	:: else ->
		if
		:: gg[g] == 0 ||
		   (st[g] != ESTABLISHED && st[g] != REKEY_SENT) -> skip
		:: else ->
			if
			:: st[g] == REKEY_SENT && m.e != EP(g) ->
				ROW(g, 161, E_KEEPALIVE) /* dropped */
			:: else ->
				if
				:: m.a == gg[g] ->
					ROW(g, 193, E_KEEPALIVE);
					if
					:: m.resp && rq[g].t == KEEPALIVE ->
						mclr(rq[g]); tries[g] = 0
					:: m.resp && rq[g].t != KEEPALIVE
					:: !m.resp ->
						respond(g, m, KEEPALIVE, gg[g], 0)
					fi
				:: else -> skip
				fi
			fi
		fi
	fi
}

/* Rows 20a, 20b. */
inline on_close(g, m)
{
	if
	:: m.resp -> ROW(g, 202, E_CLOSE)
	:: else ->
		if
		:: gg[g] != 0 && stg[g] != 0 && m.e != EP(g) ->
			ROW(g, 161, E_CLOSE)
		:: (gg[g] != 0 && !(stg[g] != 0 && m.e != EP(g)) &&
		    m.a == gg[g]) || (g == 1 && pg != 0 && m.a == pg) ->
			ROW(g, 201, E_CLOSE);
			put(g, CLOSE, 1, m.a, 0, 0, gep[m.a], m.tok);
			tear_down(g)
		:: else -> skip
		fi
	fi
}

/* A RESUME we answered before (the peer restarted before our answer
 * reached it): it sends on its old outbound SA until it hears us again,
 * so our old inbound SAs get a new grace period (found by this model:
 * without it the restarted side's traffic is dropped in between). */
inline rearm(g, m)
{
#ifdef BAD_NO_REARM
	j = NOLD; /* known-bad: the grace periods are not renewed */
#else
	j = 0;
#endif
	do
	:: j < nold[g] -> otk[g * NOLD + j] = COVER(g, m); j++
	:: else -> break
	od
}

/* Rows 24-26: RESUME. */
inline on_resume(g, m)
{
	if
	:: lq[g].t != 0 && SAME(lq[g], m) ->
		ROW(g, 110, E_RESUME); rearm(g, m); put_msg(g, la[g])
	:: else ->
		if
		:: gg[g] == 0 ||
		   (st[g] != ESTABLISHED && st[g] != REKEY_SENT) -> skip
		:: else ->
			if
			:: m.e == EP(g) -> on_commit(g, m, E_RESUME)
			:: m.e + 1 == EP(g) ->
				if
				:: appl[g] == m.n ->
					/* row 26: the ACK again */
					ROW(g, 260, E_RESUME); rearm(g, m);
					respond(g, m, ACK, gg[g], sin[g])
				:: else -> skip /* 26a */
				fi
			:: m.e == EP(g) + 1 && st[g] == REKEY_SENT &&
			   stg[g] != 0 && m.a == stg[g] ->
				/* row 25: ours, then the peer's (+2) */
				ROW(g, 250, E_RESUME);
				if
				:: g == 0 -> ikid[gg[g]] = 0
				:: else
				fi;
				gg[g] = m.n; applying(m.n); stg[g] = 0;
				tkv = COVER(g, m);
				retire(g, sstg[g], tkv);
				sstg[g] = 0;
				mclr(rq[g]); tries[g] = 0;
				st[g] = ESTABLISHED;
				rekeyed(g, m)
			:: else -> skip /* 26a */
			fi
		fi
	fi
}

/* Delivers net[slot] to gateway g. */
inline deliver(g, slot)
{
	mcpy(cur, net[slot]);
	unslot(g, slot);
	/* the restarted peer's RESUME has arrived: from here on the
	 * grace periods it relies on are those it sets (cov) */
	if
	:: cov[1 - g] != 0 && cur.tok != 0 && cur.tok == rq[1 - g].tok ->
		cov[1 - g] = 0
	:: else
	fi;
	if
	:: cur.t == HELLO && !cur.resp -> on_hello(g, cur)
	:: cur.t == WELCOME && cur.resp -> on_welcome(g, cur)
	:: cur.t == COMMIT && !cur.resp -> on_commit(g, cur, E_COMMIT)
	:: cur.t == ACK && cur.resp -> on_ack(g, cur)
	:: cur.t == RESUME && !cur.resp -> on_resume(g, cur)
	:: cur.t == KEEPALIVE -> on_keepalive(g, cur)
	:: cur.t == CLOSE -> on_close(g, cur)
	:: else -> skip
	fi;
	/* Discarded without an answer (it came in a state that cannot use
	 * it: reordered) costs its sender a try, as a loss does. */
	if
	:: (rowid == 0 || rowid == 161) && odd < MAXTRY -> odd++
	:: else
	fi
}

/* ---- timers and commands ---------------------------------------------- */

/* Row 1 (tunnel_start from the restart timer). */
inline start(g)
{
	ROW(g, 10, E_TIMER);
	assert(nkp < 31);
	kp[g] = nkp; nkp++;
	req_send(g, HELLO, kp[g], 0, 0);
	st[g] = HELLO_SENT
}

/* Rows 2, 13, 19 (retransmission). */
inline retransmit(g)
{
	if
	:: rq[g].t == HELLO -> ROW(g, 20, E_TIMER)
	:: rq[g].t == KEEPALIVE -> ROW(g, 191, E_TIMER)
	:: else -> ROW(g, 130, E_TIMER)
	fi;
	tries[g]++;
	put_msg(g, rq[g])
}

/* Rows 3, 16, 19 (given up). Property 3: with fewer than MAXTRY
 * messages lost or discarded for arriving out of order (and no crash or
 * administrative down), nothing is ever given up: every rekey completes. */
inline give_up(g)
{
	assert(LOSS - loss + evicted + odd >= MAXTRY || crashes < CRASHES ||
	       downs < DOWNS || spur < SPURIOUS_DPD);
	if
	:: rq[g].t == KEEPALIVE -> ROW(g, 192, E_TIMER); tear_down(g)
	:: rq[g].t != KEEPALIVE && st[g] == REKEY_SENT ->
		ROW(g, 160, E_TIMER); tear_down(g)
	:: rq[g].t != KEEPALIVE && st[g] != REKEY_SENT ->
		ROW(g, 30, E_TIMER);
		if
		:: g == 0 && stg[g] != 0 -> ikid[gg[g]] = 0
		:: else
		fi;
		mclr(rq[g]); tries[g] = 0;
		kin[g * MAXS + sstg[g]] = 0;
		sstg[g] = 0; stg[g] = 0; gg[g] = 0; kp[g] = 0;
		st[g] = DOWN
	fi
}

/* Row 17: the grace period of old inbound SA i is over. */
inline grace(g, i)
{
	ROW(g, 170, E_TIMER);
	kin[g * MAXS + osp[g * NOLD + i]] = 0;
	j = i;
	do
	:: j + 1 < NOLD ->
		osp[g * NOLD + j] = osp[g * NOLD + j + 1];
		otk[g * NOLD + j] = otk[g * NOLD + j + 1];
		j++
	:: else -> break
	od;
	osp[g * NOLD + NOLD - 1] = 0; otk[g * NOLD + NOLD - 1] = 0;
	nold[g]--
}

/* Its instance ended: the peer no longer sends on it (see the top). A
 * restarted peer's instances since cov (restarts replace one another)
 * still count until its RESUME has arrived. */
#define GRACE_OVER(g, i) \
	(i < nold[g] && (otk[g * NOLD + i] == 0 || \
	 (otk[g * NOLD + i] != rq[1 - g].tok && \
	  !(cov[1 - g] != 0 && otk[g * NOLD + i] >= cov[1 - g]))))

/* A copy of g's request, or an answer to it, is still on its way: the
 * network's delay is shorter than the retransmission interval, so the
 * retransmission and give-up timers wait for it (a late copy is what
 * DUPS models). */
#define OFREQ(g, x) (x.t != 0 && x.tok == rq[g].tok)
#define INFLIGHT(g) \
	(OFREQ(g, net[0]) || OFREQ(g, net[1]) || OFREQ(g, net[2]) || \
	 OFREQ(g, net[3]) || OFREQ(g, net[4]) || OFREQ(g, net[5]))

/* The peer's traffic does not arrive and nothing is under way that
 * would change it (dpd_ms is far longer than a round trip): DPD fires. */
#define NO_ESP(g) \
	(kos[1 - g] == 0 || kin[g * MAXS + kos[1 - g]] != kok[1 - g])
#define QUIET(g) \
	(rq[1 - g].t == 0 && net[0].t == 0 && net[NSLOT].t == 0)

/* Row 20 and the `up` after it. */
inline admin_down(g)
{
	ROW(g, 200, E_DOWN);
	if
	:: gg[g] != 0 -> put(g, CLOSE, 0, gg[g], 0, 0, EP(g), 0)
	:: else
	fi;
	tear_down(g)
}

/* Rows 23, 23a: the daemon restarts (daemon.c try_resume). */
inline crash(g)
{
	crashes--;
	brk = 0;
	row_done(); /* the step the crash cut short, as far as it went */
	st[g] = DOWN; /* a new instance */
	mclr(lq[g]); mclr(la[g]); kp[g] = 0;
	if
	:: g == 1 -> pg = 0; ph = 0; seen = 0
	:: else
	fi;
	if
	:: fok[g] && lost > 0 -> lost--; fok[g] = 0
	:: true
	fi;
	if
	:: !fok[g] ->
		/* row 23a: a new handshake; the reqid's SAs flushed */
		ROW(g, 231, E_LOAD);
		j = 0;
		do
		:: j < MAXS -> kin[g * MAXS + j] = 0; j++
		:: else -> break
		od;
		kos[g] = 0; kok[g] = 0;
		if
		:: g == 0 && stg[g] != 0 -> ikid[gg[g]] = 0
		:: else
		fi;
		clear_old(g);
		sin[g] = 0; sout[g] = 0; sstg[g] = 0; mclr(rq[g]); tries[g] = 0;
		gg[g] = 0; stg[g] = 0; appl[g] = 0; st[g] = DOWN;
		resto[g] = 0; cbr[g] = 0; cov[g] = 0
	:: else ->
		/* row 23: tunnel_load */
		ROW(g, 230, E_LOAD);
		if
		:: g == 0 && stg[g] != 0 && stg[g] != fstg[g] ->
			ikid[gg[g]] = 0
		:: else
		fi;
		st[g] = fst[g]; gg[g] = fgg[g]; stg[g] = fstg[g];
		if
		:: g == 0 && stg[g] != 0 -> ikid[gg[g]] = stg[g]
		:: else
		fi;
		sin[g] = fsin[g]; sout[g] = fsout[g]; sstg[g] = fsstg[g];
		appl[g] = fappl[g]; nold[g] = fnold[g];
		/* the instance whose grace periods run (an earlier restart's
		 * RESUME may not have arrived yet: that one's still run) */
		if
		:: cov[g] == 0 -> cov[g] = rq[g].tok
		:: else
		fi;
		j = 0;
		do
		:: j < NOLD ->
			osp[g * NOLD + j] = fosp[g * NOLD + j];
			/* a whole grace period again: covers the peer's
			 * instance now under way */
			otk[g * NOLD + j] = (j < nold[g] -> rq[1 - g].tok : 0);
			j++
		:: else -> break
		od;
		mcpy(rq[g], frq[g]); tries[g] = 0;
		/* SAs the file names go in again, the others are pruned */
		j = 0;
		do
		:: j < MAXS ->
			if
			:: j == 0 -> skip
			:: j != 0 && j == sin[g] -> kin[g * MAXS + j] = gg[g]
			:: j != 0 && j == sstg[g] && j != sin[g] ->
				kin[g * MAXS + j] = stg[g]
			:: j != 0 && j != sin[g] && j != sstg[g] ->
				i = 0;
				do
				:: i < nold[g] && osp[g * NOLD + i] != j -> i++
				:: else -> break
				od;
				if
				:: i == nold[g] -> kin[g * MAXS + j] = 0
				:: else
				fi
			fi;
			j++
		:: else -> break
		od;
		kos[g] = sout[g]; kok[g] = gg[g];
		resto[g] = 1; cbr[g] = 0;
		/* tunnel_resume */
		if
		:: st[g] == ESTABLISHED ->
			ROW(g, 232, E_RESUMECMD);
			commit_with_spi(g, RESUME, 1)
		:: else ->
			ROW(g, 233, E_RESUMECMD);
			save(g);
			rq[g].t = RESUME; rq[g].tok = ntok; ntok++;
			tries[g] = 1;
			put_msg(g, rq[g])
		fi
	fi
}

/* ---- properties checked after every step ------------------------------ */

inline check()
{
#ifdef TRACE
	printf("row %d g%d | I st%d g%d/%d in%d out%d:%d old%d,%d tok%d,%d rq%d.%d cov%d r%d | R st%d g%d/%d in%d out%d:%d old%d,%d tok%d,%d rq%d.%d cov%d r%d\n",
	       rowid, rowg, st[0], gg[0], stg[0], sin[0], kos[0], kok[0],
	       osp[0], osp[1], otk[0], otk[1], rq[0].t, rq[0].tok, cov[0], resto[0],
	       st[1], gg[1], stg[1], sin[1], kos[1], kok[1],
	       osp[NOLD], osp[NOLD + 1], otk[NOLD], otk[NOLD + 1], rq[1].t, rq[1].tok, cov[1], resto[1]);
#endif
	row_done();
	/* 1. safety: every outbound SA has its inbound twin at the peer,
	 * unless the peer holds no group of that session (it fell back to a
	 * handshake: DPD ends this) or a side is restarting (resynced()
	 * checks that no such breach outlives a resumption). */
	g2 = 0;
	do
	:: g2 < 2 ->
		if
		:: kos[g2] != 0 && kin[(1 - g2) * MAXS + kos[g2]] != kok[g2] ->
			if
			:: gg[1 - g2] == 0 || gses[gg[1 - g2]] != gses[kok[g2]] ->
				skip
			:: else ->
				if
				:: resto[g2] || resto[1 - g2] ->
					cbr[g2] = cbr[g2] | resto[g2];
					cbr[1 - g2] = cbr[1 - g2] | resto[1 - g2]
				:: else ->
					printf("breach: gateway %d sends on SPI %d key %d\n",
					       g2, kos[g2], kok[g2]);
					assert(false)
				fi
			fi
		:: else
		fi;
		g2++
	:: else -> break
	od;
	/* 2. agreement */
	assert(!(st[0] == ESTABLISHED && st[1] == ESTABLISHED) ||
	       gg[0] == gg[1]);
	/* scratch variables out of the state */
	k = 0; q = 0; v = 0; i = 0; j = 0; g2 = 0; tkv = 0; mclr(cur)
}

/* 3 and 5 at the end: nothing left to do means a confirmed, clean tunnel. */
inline settled()
{
	assert(st[0] == ESTABLISHED && st[1] == ESTABLISHED);
	assert(gg[0] == gg[1] && rq[0].t == 0 && rq[1].t == 0);
	assert(kos[0] == sin[1] && kok[0] == gg[1]);
	assert(kos[1] == sin[0] && kok[1] == gg[0]);
	assert(nold[0] == 0 && nold[1] == 0 && !cbr[0] && !cbr[1]);
	j = 0;
	do
	:: j < MAXS ->
		assert(j == sin[0] || kin[j] == 0);
		assert(j == sin[1] || kin[MAXS + j] == 0);
		j++
	:: else -> break
	od
}


/* Events of gateway g. */
#define GW(g) \
	:: atomic { st[g] == DOWN && g == 0 -> start(g); save(g); check() } \
	:: atomic { rq[g].t != 0 && tries[g] < MAXTRY && !INFLIGHT(g) -> \
		retransmit(g); check() } \
	:: atomic { rq[g].t != 0 && tries[g] == MAXTRY && !INFLIGHT(g) && \
		!ANY(g) && (rq[1 - g].t == 0 || tries[1 - g] == MAXTRY) -> \
		give_up(g); save(g); check() } \
	:: atomic { st[g] == ESTABLISHED && rekeys > 0 -> rekeys--; \
		ROW(g, 90, E_REKEY); brk = 0; commit_with_spi(g, COMMIT, 1); \
		if :: brk -> crash(g); brk = 0 :: else -> save(g) fi; check() } \
	:: atomic { st[g] == ESTABLISHED && rq[g].t == 0 && \
		((NO_ESP(g) && QUIET(g)) || spur > 0) -> \
		if :: !(NO_ESP(g) && QUIET(g)) -> spur-- :: else fi; \
		ROW(g, 190, E_TIMER); req_send(g, KEEPALIVE, gg[g], 0, 0); \
		check() } \
	:: atomic { GRACE_OVER(g, 0) -> grace(g, 0); save(g); check() } \
	:: atomic { GRACE_OVER(g, 1) -> grace(g, 1); save(g); check() } \
	:: atomic { GRACE_OVER(g, 2) -> grace(g, 2); save(g); check() } \
	:: atomic { GRACE_OVER(g, 3) -> grace(g, 3); save(g); check() } \
	:: atomic { crashes > 0 -> brk = 0; crash(g); \
		if :: brk -> crash(g); brk = 0 :: else fi; check() } \
	:: atomic { downs > 0 && st[g] != DOWN -> downs--; admin_down(g); \
		save(g); check() }

/* Something is on its way to gateway d. Give-up waits for it too: the
 * whole schedule (seconds) is far longer than the network's delay. */
#define ANY(d) (net[(d) * NSLOT].t != 0)
#define PICK(d) \
	if \
	:: net[(d) * NSLOT + 0].t != 0 -> i = (d) * NSLOT + 0 \
	:: net[(d) * NSLOT + 1].t != 0 -> i = (d) * NSLOT + 1 \
	:: net[(d) * NSLOT + 2].t != 0 -> i = (d) * NSLOT + 2 \
	fi

#define NET \
	:: atomic { ANY(0) || ANY(1) -> \
		if :: ANY(0) -> g2 = 0 :: ANY(1) -> g2 = 1 fi; \
		PICK(g2); brk = 0; deliver(g2, i); \
		if :: brk -> crash(g2); brk = 0 :: else -> save(g2) fi; \
		check() } \
	:: atomic { (ANY(0) || ANY(1)) && loss > 0 -> loss--; \
		if :: ANY(0) -> g2 = 0 :: ANY(1) -> g2 = 1 fi; \
		PICK(g2); unslot(g2, i); i = 0; g2 = 0; q = 0 } \
	:: atomic { (ANY(0) || ANY(1)) && dups > 0 -> dups--; \
		if :: ANY(0) -> g2 = 0 :: ANY(1) -> g2 = 1 fi; \
		PICK(g2); mcpy(cur, net[i]); k = 1 - g2; \
		put(k, cur.t, cur.resp, cur.a, cur.n, cur.s, cur.e, cur.tok); \
		check() }

Msg cur;
byte k, q, v, i, j, g2, tkv;
byte evicted; /* messages lost to a full direction (up to MAXTRY) */
byte odd;     /* messages discarded for their order (up to MAXTRY) */

active proctype world()
{
	/* the responder answers HELLOs; the initiator starts (row 1) */
	do
	GW(0)
	GW(1)
	NET
	:: timeout -> settled(); break
	od
}
