"""llm-router"""
