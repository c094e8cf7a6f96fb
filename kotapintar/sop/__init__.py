"""SOPs: the procedure model and its pure engine, and the runtime that drives every case through its SOP."""
