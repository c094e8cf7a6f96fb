"""Cases: the lifecycle of one incident, its reports, tasks and notes, and how it is read and tracked."""
