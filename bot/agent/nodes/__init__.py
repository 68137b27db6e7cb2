"""The incident graph's nodes, one module each.

Every node is a plain function ``async def node(state, deps) -> update``: it reads the state, does
its I/O through ``deps`` and returns only the fields it changes (list fields are merged by the
state's reducers, see ``bot.agent.state``). ``bot.agent.graph`` binds ``deps`` and wires them; a
test can call a node directly with a state dict.

Each module also holds the routing function that reads the node's result and names the next node.
"""
