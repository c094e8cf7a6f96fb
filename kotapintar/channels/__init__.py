"""Intake channels: SMS, WhatsApp and Telegram adapters, the chat dialogue, outbound gateways, notifications."""
