"""What CodeBuild is: phases, records, normalisation and the agent-log format.

The domain package every other package uses; it imports none of them (only `ciwb.errors`).
"""
