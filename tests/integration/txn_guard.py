"""A client whose transactions keep losing wins within a bounded number of retries
(ARCHITECTURE.md section 5; docs/design.md, "A connection that keeps losing"), through
the real pair: after two lost commits its next transaction is guarded, and another
client's write of what it read waits until that transaction ends, or until the guard's
hold is over if it does not end."""

import dxstest
from dxstest import TRANSACTION_END, WRITE


class TxnGuard(dxstest.PairTestCase):
    def setUp(self):
        super().setUp()
        self.loser = self.c
        self.rival = self.pair.client()
        self.rival.write("/vm/state", "initial")
        for round_ in range(2):
            tx = self.loser.transaction_start()
            self.loser.read("/vm/state", tx)
            self.rival.write("/vm/state", "rival %d" % round_)
            self.loser.write("/vm/mine", "x", tx)
            self.assertEqual(self.loser.error_of(TRANSACTION_END, b"T\0", tx), "EAGAIN")

    def tearDown(self):
        self.rival.close()
        super().tearDown()

    def held(self):
        """How many requests the store has held for guarded transactions."""
        with self.pair.client() as admin:
            report = admin.control("memreport").decode()
        for line in report.splitlines():
            if line.startswith("requests held for them: "):
                return int(line.split(": ")[1])
        self.fail("memreport has no count of held requests:\n" + report)

    def test_the_guarded_commit_goes_first_and_the_held_write_follows(self):
        tx = self.loser.transaction_start()
        self.assertEqual(self.loser.read("/vm/state", tx), b"rival 1")
        self.rival.send(WRITE, b"/vm/state\0held", req_id=77)
        dxstest.wait_until(lambda: self.held() == 1, what="the rival's write held")
        self.loser.write("/vm/mine", "won", tx)
        self.loser.transaction_end(tx)  # raises unless it commits
        reply = self.rival.reply()
        self.assertEqual((reply.type, reply.req_id, reply.payload), (WRITE, 77, b"OK\0"))
        self.assertEqual(self.loser.read("/vm/mine"), b"won")
        self.assertEqual(self.loser.read("/vm/state"), b"held")

    def test_a_guard_whose_transaction_does_not_end_lifts_by_itself(self):
        tx = self.loser.transaction_start()
        self.loser.read("/vm/state", tx)
        # Answered once the hold (store.txn-guard-ms) is over, with nothing else coming
        # to the store meanwhile: the session thread wakes for it.
        self.rival.write("/vm/state", "late")
        self.assertEqual(self.held(), 1)
        self.loser.write("/vm/mine", "x", tx)
        self.assertEqual(self.loser.error_of(TRANSACTION_END, b"T\0", tx), "EAGAIN")
        self.assertEqual(self.loser.read("/vm/state"), b"late")


if __name__ == "__main__":
    dxstest.main()
