"""Every activity the worker registers, by module."""

from activities.audit import audit_order
from activities.changes import change_address
from activities.fulfilment import check, pack, pick
from activities.notifications import notify
from activities.inventory import release_stock, reserve_stock
from activities.orders import close_task, escalate_task, open_task, record_approval, record_progress
from activities.payments import cancel_payment, mark_paid
from activities.returns import RETURN_ACTIVITIES
from activities.shipping import create_shipment
from activities.webhooks import push_status

ALL_ACTIVITIES = [
    audit_order,
    reserve_stock,
    release_stock,
    create_shipment,
    mark_paid,
    open_task,
    close_task,
    record_progress,
    escalate_task,
    record_approval,
    push_status,
    notify,
    cancel_payment,
    change_address,
    pick,
    check,
    pack,
    *RETURN_ACTIVITIES,
]

# The implementations of the names flows may use in `activity` steps.
STEP_ACTIVITIES = {"reserve_stock", "release_stock", "create_shipment", "mark_paid", "notify", "cancel_payment",
                   "change_address", "pick", "check", "pack"} | {a.__temporal_activity_definition.name for a in RETURN_ACTIVITIES}
