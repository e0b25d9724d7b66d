"""The reader service: the core that carries events into the reception flow (core.py), the protocol table
(protocol.py), and the parts that do the flow's actions: card actions on the card thread (cards.py,
card_worker.py), card-face reads (card_face.py), face attempts (faces.py, face_check.py), results (results.py),
the patient screen's claim (claim.py), the sockets it listens on (listeners.py), bench control (bench.py).
daemon/app/compose.py builds them from the configuration; nothing here reads it."""
