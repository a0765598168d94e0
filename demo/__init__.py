"""The demo: the story the registry exists to tell, on 127.0.0.1.

One table of agents (``demo.agents.DEMO_AGENTS``) says who registered what, as
which type, and what each agent really is and speaks; ``seed_demo`` registers
them, ``seed_demo_credentials`` saves the one login a demo owner has, and
``serve_demo_agents`` serves them with the official ``mcp`` and ``a2a-sdk``
servers (``demo.fleet``). Nothing but these commands, ``bin/run`` and the tests
imports it.
"""
