"""The duty desk (值班): the roster of who is on duty each half-day (``roster``), the calls a
street office's terminal places to the center and how they ring, are answered and end
(``calls``), what an answered call becomes (``intake``) and the reception figures
(``figures``)."""
