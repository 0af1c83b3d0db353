"""Names vulture (``make lint``) cannot see being used: read by Django, DRF, a library or a
template, or pytest fixtures asked for their side effect. Only names, never run.

Conventions that apply everywhere (``Meta``, ``handle``, ``ready``, ``get_*``, ``validate_*``,
``save_model`` …) are in ``ignore_names`` of ``[tool.vulture]`` in pyproject.toml. A name goes
here only when nothing in Python reads it; code that nothing reads at all is deleted instead.
"""

# ruff: noqa: B018

from types import SimpleNamespace

_ = SimpleNamespace()

# Model fields written by services and shown in templates, the admin or the API only.
_.title_tokens  # search_document: read by SQL (FTS5 rows, the generated tsvector)
_.body_tokens
_.lexemes
_.volume_classification  # search_document: read by the visibility clauses (Q by name, SQL)
_.volume_fonds_id
_.claimed_at  # search.PageText: claimed by the OCR worker (SQL update)
_.corrected_by
_.corrected  # search.api.PageTextSerializer
_.location_note
_.firmware
_.status_changed_at
_.first_seen
_.last_topic
_.last_payload
_.user_type
_.decided_at
_.closed_at
_.closed_by
_.refused_lines
_.checked_out_by
_.returned_by
_.scanned_by
_.scanned_at
_.starts_at
_.content_object
_.opening_age_years
_.uploaded_by
_.uploaded_at
_.opened_by
_.dew_point_mean
_.record_id
_.category_code
_.category_name

# Serializer fields (declared, read by DRF through ``fields``).
_.clearance_label
_.id_number_masked
_.request_number
_.replayed
_.kind_label
_.reason_label
_.payload_preview
_.payload_base64
_.thumbnail_url
_.web_url
_.position_label
_.code_label
_.template_label
_.time_zone
_.limits
_.error_count

# Attributes read by templates.
_.has_previous
_.links
_.n_lines

# Forms: Django reads these class attributes.
_.input_type
_.field_order
_.help_texts
_.widget
_.help_text

# Django middleware hooks, URL error handlers, the API's pagination, settings-referenced classes.
_.process_view
_.process_exception
_.handler400
_.handler403
_.handler404
_.handler500
_.page_not_found
_.server_error
_.permission_denied
_.bad_request
_.Pagination
_.DomainErrorMiddleware
_.PreferredLanguageMiddleware  # settings.MIDDLEWARE
_.BoundedJSONParser
_.BoundedFormParser
_.BoundedMultiPartParser
_.normalise_integer_limits
_.CacheEntry
_.RecordingMiddleware
_.navigation
_.change_password_form
_.enforce_csrf_checks
_._messages

# Libraries read these: paho's MQTT properties, reportlab's chart styles, amqtt's plugins,
# urllib's redirect hook, http.server/aiosmtpd handlers, pytest's session hook.
_.SessionExpiryInterval
_.ReceiveMaximum
_.MessageExpiryInterval
_.UserProperty
_.on_unsubscribe
_.strokeColor
_.strokeWidth
_.strokeDashArray
_.symbol
_.fontSize
_.LoopbackAuthPlugin
_.is_anonymous
_.redirect_request
_.log_message
_.do_POST
_.handle_DATA
_.daemon_threads
_.exitstatus
_.previous_id

# Callback and hook parameters whose signature is fixed by the caller.
_.userdata
_.signum
_.frame
_.fp
_.newurl
_.max_packets
_.view_args
_.generator
_.is_async

# pytest fixtures requested for their side effect.
_.transactional_db
_.django_db_setup
_.staff_see_fonds
_.unreachable_redis
_.unreachable_elasticsearch
_.granted
_.engine_down
_.small_budget
_.frozen
_.shared_database
_.hostile_items
# issue 18: a middleware named in settings.MIDDLEWARE; psycopg connection attributes set
_.RequestIdMiddleware
# issue 18: named in settings (MIDDLEWARE, EMAIL_BACKEND); read by Django's FileResponse
_.MetricsMiddleware
_.QueuedEmailBackend
_.block_size
_.isolation_level
_.read_only

# Description to DA/T 18/22 (issue 14): form field declarations read by Django's form metaclass,
# a ModelChoiceField hook, the template's "required element" marker, fonds-level model fields
# shown only in pages and the API, and a pytest fixture asked for its side effect (Chinese UI).
_.label_from_instance
_.mandatory
_.administrative_history
_.custodial_history
_.item_in_volume
_.chinese

# Issue 13: model and form fields read by Django (forms, templates, serializers).
_.recorded_at
_.ahead
_.second_supervisor
_.second_password
_.access_status_display

# drf-spectacular post-processing hook named in settings (SPECTACULAR_SETTINGS); an attribute the
# record door sets for serializers (`volume_id` through the volume's own door).
_.document_errors
_.visible_volume_id
_.show_borrower  # set by the where-is template tag for the template

# Use services (issue 15): fields shown in templates, the admin or the API; template-only
# helpers and the password-reset view's template names (read by Django).
_.effect_recorded_at
_.effect_recorded_by
_.served_by
_.last_login
_.step_number
_.inbox_lines
_.chain_words
_.step_reason
_.approved_by
_.line_rows
_.common_fields
_.email_template_name
_.subject_template_name
_.undo_until  # ScanResultSerializer field (the check-in undo deadline, read by checkin.js)
# The inbox API (borrowing.serializers.InboxEntrySerializer): declared, read by DRF.
_.step_role
_.step_clearance
_.handle_starttag  # HTMLParser callbacks (bench/load.py)
_.handle_endtag
