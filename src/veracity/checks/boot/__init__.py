"""Following a firmware's boot path without running it: shell parsing (:mod:`.shell`), the walk
(:mod:`.interp`), the places boot starts (:mod:`.entries`) and which programs are services (:mod:`.daemons`)."""
